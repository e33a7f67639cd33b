#!/usr/bin/env bats
# -u USER[:GROUP]: every child runs as USER; -C DIR: every child starts in
# DIR, looked up anew at each reload.

load helpers/common
load helpers/control

# make_user_srv: $T/usrv, a server that records who and where it is in
# $T/out/who-GEN, then runs httpd (readiness by NOTIFY_SOCKET). $T and
# $T/out are opened up so that an unprivileged child can use them.
make_user_srv() {
	chmod 755 "$T"
	mkdir -m 777 "$T/out"
	cat >"$T/usrv" <<EOF
#!/bin/sh
{
	echo "uid=\$(id -u) gid=\$(id -g) groups=\$(id -G)"
	echo "home=\$HOME user=\$USER logname=\$LOGNAME"
	echo "notify=\$NOTIFY_SOCKET"
	echo "pwd=\$(pwd -P)"
} >"$T/out/who-\$GRACEFUL_RUN_GENERATION"
HTTPD_READY=auto HTTPD_LOG="$T/out/httpd-\$GRACEFUL_RUN_GENERATION.log" \
	exec "$GR_HELPERS/httpd"
EOF
	chmod 755 "$T/usrv"
}

@test "-u nobody: the child's uid, gid, groups and user variables; READY=1 from it counts" {
	local notify dir
	make_user_srv
	port=$(free_port)
	HOME=/root USER=root LOGNAME=root start_gr -u nobody -l "127.0.0.1:$port" --ready notify -c "$T/ctl" -- "$T/usrv"
	wait_ready 1
	grep -q 'generation 1 (pid [0-9]*) ready in [0-9.]*s (READY=1)' "$T/gr.err"
	run cat "$T/out/who-1"
	assert_line --index 0 "uid=65534 gid=65534 groups=65534"
	assert_line --index 1 "home=/nonexistent user=nobody logname=nobody"
	# Its notify socket: nobody's, 0600, in a directory nogroup may enter only.
	notify=$(sed -n 's/^notify=//p' "$T/out/who-1")
	dir=${notify%/*}
	run stat -c '%a %U %G' "$dir" "$notify"
	assert_line --index 0 "710 root nogroup"
	assert_line --index 1 "600 nobody nogroup"
	# The sockets were bound by root (port 80 would do), then served by nobody.
	assert_equal "$(served_by "$port")" "$(generation_pid 1)"
	run ps -o user= -p "$(generation_pid 1)"
	assert_output nobody
	# Reloads work the same way.
	run gr reload
	assert_success
	run cat "$T/out/who-2"
	assert_line --index 0 "uid=65534 gid=65534 groups=65534"
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	[ ! -e "$dir" ]
}

@test "-u USER:GROUP: that group, and the check and probe commands run as the user too" {
	make_user_srv
	port=$(free_port)
	start_gr -u nobody:daemon -l "127.0.0.1:$port" -c "$T/ctl" \
		--check "id -u -n >'$T/out/check'" \
		--ready "exec:id -u -n >>'$T/out/probe'" -- "$T/usrv"
	wait_ready 1
	run cat "$T/out/who-1"
	assert_line --index 0 "uid=65534 gid=1 groups=1"
	run gr reload
	assert_success
	run cat "$T/out/check"
	assert_output nobody
	run sort -u "$T/out/probe"
	assert_output nobody
}

@test "-u: an unknown user or group is a start-up failure; so is -u from a user that is not root" {
	run "$GR_BIN" -u no-such-user-here -l "127.0.0.1:$(free_port)" -- true
	assert_failure 125
	assert_output --regexp '^graceful-run\[[0-9]+\]: -u: no such user "no-such-user-here": "no-such-user-here"$'
	run "$GR_BIN" -u nobody:no-such-group -l "127.0.0.1:$(free_port)" -- true
	assert_failure 125
	assert_output --partial 'no such group "no-such-group"'
	run setpriv --reuid nobody --regid nogroup --clear-groups "$GR_BIN" -u root -l "127.0.0.1:$(free_port)" -- true
	assert_failure 125
	assert_output --partial '-u: only root can run children as another user: "root"'
}

# make_release N: $T/releases/N/srv, which records its release and cwd.
make_release() {
	mkdir -p "$T/releases/$1"
	cat >"$T/releases/$1/srv" <<EOF
#!/bin/sh
echo "release $1 gen \$GRACEFUL_RUN_GENERATION pwd \$(pwd -P)" >>"$T/versions"
HTTPD_READY=notify HTTPD_LOG="$T/httpd-\$GRACEFUL_RUN_GENERATION.log" exec "$GR_HELPERS/httpd"
EOF
	chmod +x "$T/releases/$1/srv"
}

# switch_current N: point $T/current at release N, atomically.
switch_current() {
	ln -sfn "releases/$1" "$T/current.new"
	mv -T "$T/current.new" "$T/current"
}

@test "-C follows a symlink switch across a reload; a directory that is gone fails the reload only" {
	make_release 1
	make_release 2
	switch_current 1
	port=$(free_port)
	start_gr -C "$T/current" -l "127.0.0.1:$port" --ready notify -c "$T/ctl" -- ./srv
	wait_ready 1
	switch_current 2
	run gr reload
	assert_success
	run cat "$T/versions"
	assert_output - <<-EOF
		release 1 gen 1 pwd $T/releases/1
		release 2 gen 2 pwd $T/releases/2
	EOF
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
	# The release directory vanishes: the reload fails, generation 2 serves on.
	rm -r "$T/releases/2"
	run gr reload
	assert_failure 1
	assert_output "reload failed: generation 3 could not start; generation 2 still serving"
	grep -q "chdir $T/current: No such file or directory" "$T/gr.err"
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
	# Switching back and reloading works again.
	switch_current 1
	run gr reload
	assert_success
	assert_equal "$(tail -n 1 "$T/versions")" "release 1 gen 4 pwd $T/releases/1"
}

@test "-C to a directory that does not exist: the first generation fails, 125, one line" {
	run "$GR_BIN" -C "$T/none" -l "127.0.0.1:$(free_port)" -- true
	assert_failure 125
	assert_output --regexp "chdir $T/none: No such file or directory$"
}

@test "the README's deploy recipe: a release that does not come up is rolled back, the old one serves on" {
	local recipe
	make_release 42
	mkdir -p "$T/releases/43"
	printf '#!/bin/sh\necho "release 43 crashes" >&2\nexit 1\n' >"$T/releases/43/srv"
	chmod +x "$T/releases/43/srv"
	switch_current 42
	port=$(free_port)
	start_gr -C "$T/current" -l "127.0.0.1:$port" --ready notify -c "$T/ctl" -- ./srv
	wait_ready 1
	# The recipe as the README has it, on this test's paths.
	recipe=$(sed -n '/^    ln -sfn releases\/43 /,/^    }$/p' "$GR_SRCDIR/README" |
		sed -e 's/^    //' -e "s|/srv/app|$T|g" -e "s|/run/app/control|$T/ctl|g" \
			-e "s|graceful-run reload|$GR_BIN reload|")
	[ -n "$recipe" ]
	run sh -c "cd '$T' && $recipe"
	assert_failure 1
	assert_output --partial "reload failed: generation 2 exited with status 1 before it was ready; generation 1 still serving"
	assert_equal "$(readlink "$T/current")" "releases/42"
	assert_equal "$(served_by "$port")" "$(generation_pid 1)"
	# The next release that works goes through the same recipe.
	make_release 43
	run sh -c "cd '$T' && $recipe"
	assert_success
	assert_equal "$(readlink "$T/current")" "releases/43"
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"
}
