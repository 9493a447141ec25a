// Error catalogue of the all-in-one process (apps/jit).
import { defineError } from '@jit/errors';

export const DataDirUnusable = defineError<[string, string]>('JIT_ERR_JIT_DATA_DIR', 'JIT_DATA_DIR %s cannot be used: %s');
