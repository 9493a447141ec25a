// Entry point of webhook-ingest (distributed mode). Composed in its issue.
export {};
