// Entry point of revoker (distributed mode). Composed in its issue.
export {};
