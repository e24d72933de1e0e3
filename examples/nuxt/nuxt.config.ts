// Nitro (the node-server preset) traces server dependencies with @vercel/nft and copies them
// into .output/server/node_modules. perse-node's loader requires its platform package and
// .node file by literal names, so tracing finds the native binary: do not mark perse-node
// external by hand, and do not inline (bundle) it.
export default defineNuxtConfig({
  compatibilityDate: '2025-07-15',
  ssr: false,
  nitro: {
    preset: 'node-server',
  },
})
