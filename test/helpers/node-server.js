// A node HTTP server that binds its own port, as node programs do, and
// knows nothing of graceful-run. On SIGTERM it stops accepting, closes
// idle keep-alive connections and exits once the last request is done.
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
// Fixed width, as ab counts a body of another length as a failure.
const body = `pid=${String(process.pid).padStart(10, '0')} ` +
	`gen=${(process.env.GRACEFUL_RUN_GENERATION || '0').padStart(6, '0')}\n`;
const server = http.createServer((req, res) => {
	res.end(body);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
	server.close(() => process.exit(0));
	server.closeIdleConnections();
});
