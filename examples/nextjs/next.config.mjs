/** @type {import('next').NextConfig} */
const nextConfig = {
  // perse-node is a native addon: Next.js must load it with Node's require at run time,
  // not bundle it. (Never import perse-node from this config file itself.)
  serverExternalPackages: ['perse-node'],
}

export default nextConfig
