// The all-in-one jit process (embedded mode).
export {};
