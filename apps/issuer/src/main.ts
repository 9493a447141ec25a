// Entry point of issuer (distributed mode). Composed in its issue.
export {};
