// @jit/audit: what SIEMs and auditors read — jit events mapped to OCSF, the event stream route of the
// read API (GET /v1/events), and reading JSON lines exports safely.
export { OCSF_VERSION, createOcsfMapper } from './ocsf-mapper';
export type { OcsfEvent, OcsfMapper, OcsfMapperOptions } from './ocsf-mapper';
export { eventsPlugin } from './events-plugin';
export type { EventsRouteOptions } from './events-plugin';
export { MAX_LINE_BYTES, jsonLine, readJsonLines } from './json-lines';
export { createSinceWindow, isAtOrAfter } from './since-window';
export type { SinceWindow } from './since-window';
export type { JsonLine } from './json-lines';
export { EventsBadQuery, EventsBusy, EventsNotAuditor, EventsUnauthenticated, LineNotJson, LineTooLong } from './errors';
