'use strict'
// Rust + wasm-bindgen, `--target web`: used from Node by handing the .wasm bytes to initWasm.
const fs = require('node:fs')
const { createHash } = require('node:crypto')
const { initWasm, Resvg } = require('@resvg/resvg-wasm')

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">
  <defs>
    <linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#ff8800"/><stop offset="1" stop-color="#0044cc"/>
    </linearGradient>
    <filter id="blur"><feGaussianBlur stdDeviation="3"/></filter>
  </defs>
  <rect width="240" height="160" fill="url(#g)"/>
  <circle cx="80" cy="80" r="50" fill="#ffffff" fill-opacity="0.6" filter="url(#blur)"/>
  <path d="M130 30 L220 80 L130 130 Z" fill="none" stroke="#000" stroke-width="6" stroke-linejoin="round"/>
  <ellipse cx="180" cy="120" rx="30" ry="12" transform="rotate(-20 180 120)" fill="#22aa55"/>
</svg>`

initWasm(fs.readFileSync(require.resolve('@resvg/resvg-wasm/index_bg.wasm'))).then(() => {
  for (const width of [240, 960]) {
    const resvg = new Resvg(svg, { fitTo: { mode: 'width', value: width } })
    const image = resvg.render()
    const png = image.asPng()
    console.log(image.width, image.height, image.pixels.length, sha256(image.pixels), png.length, sha256(png))
    image.free()
    resvg.free()
  }
  const bbox = new Resvg(svg).getBBox()
  console.log('bbox', bbox.x, bbox.y, bbox.width, bbox.height)
})
