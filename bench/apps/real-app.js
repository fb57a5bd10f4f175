'use strict';
// The real app of the benchmark (BENCH_APP=real in app.js): what a typical service loads at
// start, from real packages: express, and the AWS SDK's S3 client with a client built as a
// service would build it at start (no request is ever sent). They are devDependencies of
// bench/package.json only, installed with `npm --prefix bench install`; master-process
// itself depends on none of them. Exports the request handler, answering `body` after
// `delayMs` as app.js's own handler does.
const express = require('express');
const { S3Client, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } = require('@aws-sdk/client-s3');

module.exports = function realApp({ body, delayMs }) {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.locals.s3 = new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  app.locals.commands = { GetObjectCommand, ListObjectsV2Command, PutObjectCommand };
  app.get('/', (req, res) => {
    const reply = () => res.type('text/plain').send(body);
    if (delayMs > 0) setTimeout(reply, delayMs);
    else reply();
  });
  return app;
};
