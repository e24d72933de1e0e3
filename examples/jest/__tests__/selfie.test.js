'use strict'

const path = require('node:path')

const photo = (name) => path.join(__dirname, '..', 'fixtures', name)

describe('checkSelfie against the global local server', () => {
  // A fresh module registry for every test: the app and perse-node load again each time.
  beforeEach(() => jest.resetModules())
  afterEach(() => require('perse-node').close())

  test('a good photo passes', async () => {
    const { checkSelfie } = require('../app')
    await expect(checkSelfie(photo('astronaut.jpg'))).resolves.toEqual({ status: 200, body: { ok: true, verdict: 'success' } })
  })

  test('a blurred photo is refused with the verdict', async () => {
    const { checkSelfie } = require('../app')
    await expect(checkSelfie(photo('astronaut-blurred.jpg'))).resolves.toEqual({ status: 422, body: { ok: false, verdict: 'bad_image_quality' } })
  })
})
