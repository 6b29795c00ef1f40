// bench/peers/node/express.js: Express (Debian's node-express, found through NODE_PATH) serving
// GET /json -> {"message":"Hello, World!"} for bench/compare.py. Node's keep-alive timeout (5 s)
// is raised so that the idle-connection test measures memory, not Node closing connections.
'use strict';
const express = require('express');

const app = express();
app.get('/json', (req, res) => {
  res.json({ message: 'Hello, World!' });
});
const server = app.listen(Number(process.argv[2]), '127.0.0.1');
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
