// Types of the ESM entry (lib/index.mjs): the same declarations as the CommonJS entry.
export * from './index.js'
import * as all from './index.js'
export default all
