// `node --import @honeytrap/sdk/dist/test-hooks/register.js test.mjs`: makes
// '@honeytrap/sdk' in the test resolve to this SDK, so a plugin folder's
// tests run without `npm install`. honeytrap-plugin test uses it.
import { register } from 'node:module';

register('./resolve.js', import.meta.url);
