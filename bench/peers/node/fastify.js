// bench/peers/node/fastify.js: Fastify (npm, locked in package-lock.json, installed by
// tools/npm-ci.sh into build/bench-peers/node) serving GET /json -> {"message":"Hello, World!"}
// for bench/compare.py, with a response schema so Fastify serializes it with its compiled
// stringifier, as its docs advise. Keep-alive timeout raised as for express.js.
'use strict';
const fastify = require('fastify')({ logger: false, keepAliveTimeout: 120000 });

const schema = {
  response: {
    200: { type: 'object', properties: { message: { type: 'string' } } },
  },
};
fastify.get('/json', { schema }, async () => ({ message: 'Hello, World!' }));
fastify.listen({ port: Number(process.argv[2]), host: '127.0.0.1' }, (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
});
