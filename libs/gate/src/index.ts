// libs/gate: the approval gate (bus consumer + GitLab driver + merge-time verification).
export { createGate, contractsRequestParser, GATE_GROUP_ID, STATUS_NAME, ANY_HUMAN } from './approval-gate';
export type { Gate, GateOptions, RequestParser, RequestParseResult } from './approval-gate';
export { createGroupResolver } from './group-resolver';
export { renderComment, GATE_MARKER } from './render-comment';
export type { CommentView, ApprovalLine } from './render-comment';
export { GateMalformedEvent, GateNotStarted, GateReconcileFailed, GateInvalidOption } from './errors';
export { createReconciler, synthesizeWebhook, RECONCILE_ID_PREFIX, RECONCILE_SOURCE, RECONCILE_OVERLAP_MS } from './reconciler';
export type { Reconciler, ReconcilerOptions, ReconcileSummary, ReconcileAction } from './reconciler';
export { gatePlugin } from './gate-plugin';
export type { GatePluginOptions } from './gate-plugin';
