// Test entry (integration suites only): the issuer app, except that right after a substrate has
// issued a credential it prints `JIT_TEST_ISSUED <grantId>` and holds the credential until the
// process receives SIGUSR2, so a suite can pause it (SIGSTOP) between issue and the `granted`
// publish past its Kafka session, let another replica take the partition over, and resume it.
// Never used in production.
import type { Substrate } from '@jit/substrates';
import { parseConfig } from '../config';
import { buildServer } from '../server';

const hold = (substrate: Substrate): Substrate => {
  const wrapped = Object.create(substrate) as Substrate;
  wrapped.issue = async (req) => {
    const issued = await substrate.issue(req);
    const released = new Promise((resolve) => process.once('SIGUSR2', resolve));
    process.stdout.write(`JIT_TEST_ISSUED ${req.grantId}\n`);
    await released;
    return issued;
  };
  return wrapped;
};

const config = parseConfig(process.env);
const { app } = await buildServer(config, { wrapSubstrate: hold });
const address = await app.listen({ host: config.host, port: config.port });
process.stdout.write(`JIT_TEST_LISTENING ${address}\n`);
