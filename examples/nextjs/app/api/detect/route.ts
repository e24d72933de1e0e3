// App Router route handler: receives an uploaded photo (multipart field "photo") and asks
// Perse for faces. The private key comes from the server's environment and never reaches
// the browser; the client logs in and refreshes session tokens itself.
import { NextResponse } from 'next/server'
import { PerseClient, isPerseError } from 'perse-node'

export const runtime = 'nodejs' // native addons need the Node.js runtime, not Edge
export const dynamic = 'force-dynamic'

// One client per server process, created on first use (not at build time).
let client: PerseClient | undefined
function perse(): PerseClient {
  client ??= new PerseClient({
    baseUrl: process.env.PERSE_BASE_URL,
    privateKey: process.env.PERSE_PRIVATE_KEY,
    prepare: 'fit', // phone photos: orient, convert and shrink under the 1 MB limit
  })
  return client
}

export async function POST(request: Request) {
  const form = await request.formData()
  const photo = form.get('photo')
  if (!(photo instanceof Blob)) {
    return NextResponse.json({ error: 'send the image as multipart field "photo"' }, { status: 400 })
  }
  try {
    const result = await perse().detect(new Uint8Array(await photo.arrayBuffer()), { enduserConsent: true })
    return NextResponse.json({ faces: result.totalFaces, boxes: result.faces.map((f) => f.boundingBox) })
  } catch (e) {
    if (isPerseError(e)) {
      return NextResponse.json({ error: e.code, message: e.message }, { status: e.httpStatus === 401 ? 502 : 400 })
    }
    throw e
  }
}
