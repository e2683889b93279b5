// The call slots of heron's exported functions (src/slots.rs, src/export.rs): garbage in
// them, written by code that reached the slots' buffer and the native entries, gives a
// TypeError and never a crash. Heron only: V8's exported functions have no such slots.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

test('garbage in the call slots gives a TypeError and the process lives on', () => {
  const script = fileURLToPath(new URL('./fixtures/call-slots-garbage.mjs', import.meta.url))
  const child = spawnSync(process.execPath, ['--expose-gc', script], { encoding: 'utf8' })
  assert.equal(child.status, 0, child.stdout + child.stderr)
  const outcome = JSON.parse(child.stdout.trim().split('\n').at(-1))
  assert.ok(outcome.typeErrors > 0)
  assert.ok(outcome.calls > 0)
  assert.equal(outcome.freed, true)
})
