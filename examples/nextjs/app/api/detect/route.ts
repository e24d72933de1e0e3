// App Router route handler: receives an uploaded photo (multipart field "photo") and asks
// Perse for faces. The private key comes from the server's environment and never reaches
// the browser; the client logs in and refreshes session tokens itself.
import { NextResponse } from 'next/server'
import { PerseClient, isPerseError } from 'perse-node'

export const runtime = 'nodejs' // native addons need the Node.js runtime, not Edge
export const dynamic = 'force-dynamic'

// One client per server process, created on first use (not at build time).
let client: PerseClient | undefined
const perse = () => (client ??= new PerseClient()) // PERSE_BASE_URL and PERSE_PRIVATE_KEY from the environment

export async function POST(request: Request) {
  const photo = (await request.formData()).get('photo')
  if (!(photo instanceof Blob)) {
    return NextResponse.json({ error: 'send the image as multipart field "photo"' }, { status: 400 })
  }
  try {
    // The File goes in as it is: phone photos (sideways, WebP, over 1 MB) are prepared for upload.
    const result = await perse().detect(photo, { enduserConsent: true })
    // requestId: quote it to Perse support. trace: the call's attempts, present because
    // instrumentation.ts subscribed to perse-node's diagnostics channel.
    return NextResponse.json({ faces: result.totalFaces, boxes: result.faces.map((f) => f.boundingBox), uploaded: result.uploaded, requestId: result.requestId, attempts: result.trace?.attempts.length })
  } catch (e) {
    if (isPerseError(e)) {
      return NextResponse.json({ error: e.code, message: e.message, requestId: e.requestId }, { status: e.httpStatus === 401 ? 502 : 400 })
    }
    throw e
  }
}
