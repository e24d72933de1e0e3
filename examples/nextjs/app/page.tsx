export default function Home() {
  return (
    <main>
      <h1>perse-node + Next.js</h1>
      <form action="/api/detect" method="post" encType="multipart/form-data">
        <input type="file" name="photo" accept="image/*" />
        <button type="submit">Detect</button>
      </form>
    </main>
  )
}
