export { OCSF_VENDOR_DIR, loadOcsfSchemas } from './ocsf-json-schema';
export type { OcsfSchemaSet } from './ocsf-json-schema';
