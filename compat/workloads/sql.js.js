'use strict'
// Emscripten C (SQLite, ALLOW_MEMORY_GROWTH): build, query and export a database.
// The database file lives in Emscripten's MEMFS (JS memory), so the heap is made to
// grow past its initial 21 MiB by values built inside SQLite (hex of a 16 MB blob,
// 32 MB, then a replace() producing a second 32 MB string).
const { createHash } = require('node:crypto')
const initSqlJs = require('sql.js')

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

initSqlJs().then((SQL) => {
  const db = new SQL.Database()
  console.log('sqlite', db.exec('select sqlite_version()')[0].values[0][0])
  db.run('create table t (id integer primary key, k text, v real, blob blob)')
  const insert = db.prepare('insert into t (k, v, blob) values (?, ?, ?)')
  db.run('begin')
  for (let i = 0; i < 60000; i++) {
    const blob = new Uint8Array(256)
    for (let j = 0; j < blob.length; j++) blob[j] = (i * 31 + j * 7) & 0xff
    insert.run([`key-${(i * 2654435761) % 1000003}`, i / 7, blob])
  }
  db.run('commit')
  insert.free()
  db.run('create index t_k on t (k)')
  const rows = (sql) => JSON.stringify(db.exec(sql)[0].values)
  console.log('count', rows('select count(*), sum(v), min(k), max(k) from t'))
  console.log('groups', rows("select substr(k, 1, 6) g, count(*) from t group by g order by g limit 5"))
  console.log('lookup', rows("select id, v from t where k = (select k from t where id = 777)"))
  console.log('blob', rows('select length(blob), hex(substr(blob, 1, 8)) from t where id = 12345'))
  console.log('math', rows('select printf("%.6f", avg(v * v)), total(length(k)) from t'))
  console.log('big', rows("select length(replace(hex(zeroblob(16000000)), '00', 'ab')), hex(substr(replace(hex(zeroblob(16000000)), '00', 'ab'), 31999990))"))
  const json = db.exec("select json_object('a', 1, 'b', json_array(1, 2, 'x'))")
  console.log('json', json[0].values[0][0])
  const image = db.export()
  console.log('export', image.length, sha256(image))
  db.close()
  const reopened = new SQL.Database(image)
  console.log('reopen', JSON.stringify(reopened.exec('select count(*) from t where v > 1000')[0].values))
  reopened.close()
})
