/*
 * What an executable is, as far as the dynamic loader is concerned: ELF or
 * not (a script), for which class, byte order and machine, and whether it
 * names an interpreter (PT_INTERP). An ELF file without one is statically
 * linked: no LD_PRELOAD library is ever loaded into it.
 */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

/* More program headers than any real executable has; a bound on reads. */
#define ELFINFO_MAX_PHDRS 4096

static bool
elfinfo_pread(int fd, void *buf, size_t len, off_t at)
{
	ssize_t n;

	do
		n = pread(fd, buf, len, at);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)len;
}

static bool
elfinfo_native(unsigned char data)
{
	static const uint16_t probe = 1;

	return data == (*(const unsigned char *)&probe == 1 ?
	    ELFDATA2LSB : ELFDATA2MSB);
}

static void
elfinfo_find_interp64(int fd, struct elfinfo *info)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	size_t i;

	if (!elfinfo_pread(fd, &eh, sizeof(eh), 0))
		return;
	info->machine = eh.e_machine;
	if (eh.e_phentsize < sizeof(ph) || eh.e_phnum > ELFINFO_MAX_PHDRS)
		return;
	for (i = 0; i < eh.e_phnum && !info->interp; i++)
		if (elfinfo_pread(fd, &ph, sizeof(ph),
		    (off_t)(eh.e_phoff + i * eh.e_phentsize)))
			info->interp = ph.p_type == PT_INTERP;
}

static void
elfinfo_find_interp32(int fd, struct elfinfo *info)
{
	Elf32_Ehdr eh;
	Elf32_Phdr ph;
	size_t i;

	if (!elfinfo_pread(fd, &eh, sizeof(eh), 0))
		return;
	info->machine = eh.e_machine;
	if (eh.e_phentsize < sizeof(ph) || eh.e_phnum > ELFINFO_MAX_PHDRS)
		return;
	for (i = 0; i < eh.e_phnum && !info->interp; i++)
		if (elfinfo_pread(fd, &ph, sizeof(ph),
		    (off_t)eh.e_phoff + (off_t)(i * eh.e_phentsize)))
			info->interp = ph.p_type == PT_INTERP;
}

/* 0 and *info filled in; -1 (errno set) when path cannot be read. */
int
elfinfo_read(const char *path, struct elfinfo *info)
{
	unsigned char ident[EI_NIDENT];
	int fd, saved;

	memset(info, 0, sizeof(*info));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (elfinfo_pread(fd, ident, sizeof(ident), 0) &&
	    memcmp(ident, ELFMAG, SELFMAG) == 0) {
		info->elf = true;
		info->class = ident[EI_CLASS];
		info->data = ident[EI_DATA];
		/* Another byte order is another machine: nothing to read. */
		if (info->class == ELFCLASS64 && elfinfo_native(info->data))
			elfinfo_find_interp64(fd, info);
		else if (info->class == ELFCLASS32 && elfinfo_native(info->data))
			elfinfo_find_interp32(fd, info);
	}
	saved = errno;
	close(fd);
	errno = saved;
	return 0;
}

/* Whether a library built as lib can be loaded into a program built as prog. */
bool
elfinfo_compatible(const struct elfinfo *lib, const struct elfinfo *prog)
{
	return lib->class == prog->class && lib->data == prog->data &&
	    lib->machine == prog->machine;
}
