// An HTTP server on the socket at fd 3: node node-fd3-server.js GATEDIR.
// It calls listen({fd: 3}) only once GATEDIR/gate-$GRACEFUL_RUN_GENERATION
// exists: a slow start-up that graceful-run must wait for. The body is
// "pid=... gen=...", as test/helpers/httpd answers.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const gen = process.env.GRACEFUL_RUN_GENERATION || '0';
const gate = path.join(process.argv[2], 'gate-' + gen);
const body = 'pid=' + String(process.pid).padStart(10, '0') +
  ' gen=' + gen.padStart(6, '0') + '\n';
const server = http.createServer((req, res) => {
  res.setHeader('Connection', 'close');
  res.end(body);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

const poll = setInterval(() => {
  if (!fs.existsSync(gate))
    return;
  clearInterval(poll);
  server.listen({ fd: 3 });
}, 20);
