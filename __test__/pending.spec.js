'use strict'

// lib/pending.js: the calls in flight, by slot. Ids are reused only after their call settled.

const test = require('ava')

const { Pending } = require('../lib/pending.js')

test('ids are slots, reused only once their call has settled', async (t) => {
  const p = new Pending()
  const a = p.reserve()
  const pa = p.promise(a)
  const b = p.reserve()
  const pb = p.promise(b)
  t.not(a, b)
  t.is(p.size, 2)
  p.settle(a, true, 'A')
  t.is(await pa, 'A')
  const c = p.reserve()
  t.is(c, a, 'the settled slot is reused')
  t.not(c, b, 'a slot in flight is not')
  p.release(c)
  p.settle(b, false, new Error('B'))
  await t.throwsAsync(pb, { message: 'B' })
  t.is(p.size, 0)
})

test('unknown, released and already settled ids are ignored', async (t) => {
  const p = new Pending()
  p.settle(42, true, 'nobody')
  const id = p.reserve()
  p.settle(id, true, 'reserved, no promise yet') // ignored: the call has not started
  const promise = p.promise(id)
  p.settle(id, true, 'first')
  p.settle(id, true, 'second')
  t.is(await promise, 'first')
  const r = p.reserve()
  p.release(r)
  p.settle(r, true, 'released')
  t.is(p.size, 0)
})

test('rejectAll rejects every call in flight and frees the slots', async (t) => {
  const p = new Pending()
  const promises = [0, 1, 2].map(() => p.promise(p.reserve()))
  const err = new Error('gone')
  p.rejectAll(err)
  for (const x of promises) t.is(await t.throwsAsync(x), err)
  t.is(p.size, 0)
  t.is(p.reserve(), 2, 'freed slots are reused last-freed first')
})
