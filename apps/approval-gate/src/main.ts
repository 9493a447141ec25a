// Entry point of approval-gate (distributed mode). Composed in its issue.
export {};
