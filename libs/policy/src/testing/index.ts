// Test helpers of libs/policy for other libs' tests.
export { EXAMPLE_POLICY_YAML, fakeSubstrates } from './fixtures';
