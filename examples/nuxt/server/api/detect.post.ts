// A Nitro server route: receives an uploaded photo (multipart field "photo") and asks Perse
// for faces. The private key stays in the server environment (PERSE_PRIVATE_KEY).
import { PerseClient, isPerseError } from 'perse-node'

let client: PerseClient | undefined
const perse = () => (client ??= new PerseClient()) // PERSE_BASE_URL and PERSE_PRIVATE_KEY from the environment

export default defineEventHandler(async (event) => {
  const photo = (await readFormData(event)).get('photo')
  if (!(photo instanceof Blob)) {
    throw createError({ statusCode: 400, statusMessage: 'send the image as multipart field "photo"' })
  }
  try {
    // The File goes in as it is: phone photos (sideways, WebP, over 1 MB) are prepared for upload.
    const result = await perse().detect(photo, { enduserConsent: true })
    return { faces: result.totalFaces, boxes: result.faces.map((f) => f.boundingBox), uploaded: result.uploaded }
  } catch (e) {
    if (isPerseError(e)) {
      setResponseStatus(event, e.httpStatus === 401 ? 502 : 400)
      return { error: e.code, message: e.message }
    }
    throw e
  }
})
