'use strict'
// Node's own fetch: undici compiles llhttp through globalThis.WebAssembly when it
// first parses a response, so this runs llhttp on heron when heron is installed.
const http = require('node:http')
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads')

// A worker thread has its own undici and its own llhttp instance.
if (!isMainThread) {
  fetch(workerData).then((r) => r.text()).then((text) => parentPort.postMessage(text))
  return
}

const server = http.createServer((req, res) => {
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    res.setHeader('content-type', 'text/plain')
    res.setHeader('x-echo', req.headers['x-test'] ?? '')
    if (req.url === '/chunked') {
      res.write('a'.repeat(1000))
      res.end('b'.repeat(70000))
    } else {
      res.end(`${req.method} ${req.url} ${body.length}`)
    }
  })
})

server.listen(0, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${server.address().port}`
  try {
    const r1 = await fetch(`${base}/hello?x=1`, { headers: { 'x-test': 'echo-me' } })
    console.log(r1.status, r1.headers.get('x-echo'), await r1.text())
    const r2 = await fetch(`${base}/post`, { method: 'POST', body: 'z'.repeat(12345) })
    console.log(r2.status, await r2.text())
    const r3 = await fetch(`${base}/chunked`)
    const t3 = await r3.text()
    console.log(r3.status, r3.headers.get('transfer-encoding'), t3.length)
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${base}/n${i}`).then((r) => r.text())))
    console.log(many.join('|'))
    const fromWorker = await new Promise((resolve, reject) => {
      new Worker(__filename, { workerData: `${base}/worker` }).once('message', resolve).once('error', reject)
    })
    console.log('worker', fromWorker)
  } finally {
    server.close()
  }
})
