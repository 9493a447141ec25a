// Test doubles and checks for @jit/notify: local receivers and the platforms' published formats.
export { startReceiver } from './receiver';
export type { Receiver, ReceivedRequest } from './receiver';
export { validateSlackMessage } from './block-kit';
export { validateTeamsMessage, TEAMS_MAX_MESSAGE_BYTES } from './adaptive-cards';
export { HOSTILE_JUSTIFICATIONS } from './hostile';
