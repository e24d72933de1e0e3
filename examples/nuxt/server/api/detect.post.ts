// A Nitro server route: receives an uploaded photo (multipart field "photo") and asks Perse
// for faces. The private key stays in the server environment (PERSE_PRIVATE_KEY).
import { PerseClient, isPerseError } from 'perse-node'

let client: PerseClient | undefined
function perse(): PerseClient {
  client ??= new PerseClient({
    baseUrl: process.env.PERSE_BASE_URL,
    privateKey: process.env.PERSE_PRIVATE_KEY,
    prepare: 'fit',
  })
  return client
}

export default defineEventHandler(async (event) => {
  const parts = await readMultipartFormData(event)
  const photo = parts?.find((p) => p.name === 'photo')
  if (!photo) {
    throw createError({ statusCode: 400, statusMessage: 'send the image as multipart field "photo"' })
  }
  try {
    const result = await perse().detect(photo.data, { enduserConsent: true })
    return { faces: result.totalFaces, boxes: result.faces.map((f) => f.boundingBox) }
  } catch (e) {
    if (isPerseError(e)) {
      setResponseStatus(event, e.httpStatus === 401 ? 502 : 400)
      return { error: e.code, message: e.message }
    }
    throw e
  }
})
