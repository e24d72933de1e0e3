/** @type {import('next').NextConfig} */
const nextConfig = {
  // A self-contained server in .next/standalone (server.js and the node_modules it needs,
  // perse-node's platform package included), to copy to a server or a container image.
  output: 'standalone',
  // perse-node is a native addon: Next.js must load it with Node's require at run time,
  // not bundle it. (Never import perse-node from this config file itself.)
  serverExternalPackages: ['perse-node'],
}

export default nextConfig
