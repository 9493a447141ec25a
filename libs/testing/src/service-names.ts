// Names accepted by scripts/services/start.sh.
import { TestingErrors } from './errors';

export const SERVICE_NAMES = ['kafka', 'openbao', 'moto', 'postgres'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** `all` expands to every service; unknown names are an error naming the valid ones. */
export function parseServiceNames(args: string[]): ServiceName[] {
  if (args.length === 0) throw TestingErrors.badArgument(`name a service: ${SERVICE_NAMES.join(', ')} or all`);
  const out = new Set<ServiceName>();
  for (const a of args) {
    if (a === 'all') SERVICE_NAMES.forEach((n) => out.add(n));
    else if ((SERVICE_NAMES as readonly string[]).includes(a)) out.add(a as ServiceName);
    else throw TestingErrors.badArgument(`unknown service ${JSON.stringify(a.slice(0, 40))}; use ${SERVICE_NAMES.join(', ')} or all`);
  }
  return [...out];
}
