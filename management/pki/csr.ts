// The agent generates its key and CSR with the same code the tests use; it lives in tunnel/.
export { createKeyAndCsr, createCsrForKey } from "../../tunnel/csr.ts";
