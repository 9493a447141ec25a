// Test entry (integration suites only): the issuer app, except that right after a substrate has
// issued a credential it prints `JIT_TEST_ISSUED <grantId>` and never returns, so the suite can
// SIGKILL it between issue and the `granted` publish. Never used in production.
import type { Substrate } from '@jit/substrates';
import { parseConfig } from '../config';
import { buildServer } from '../server';

const stall = (substrate: Substrate): Substrate => {
  const wrapped = Object.create(substrate) as Substrate;
  wrapped.issue = async (req) => {
    await substrate.issue(req);
    process.stdout.write(`JIT_TEST_ISSUED ${req.grantId}\n`);
    return new Promise(() => undefined);
  };
  return wrapped;
};

const config = parseConfig(process.env);
const { app } = await buildServer(config, { wrapSubstrate: stall });
const address = await app.listen({ host: config.host, port: config.port });
process.stdout.write(`JIT_TEST_LISTENING ${address}\n`);
