// GnuSpeech (articulatory synthesis, @echogarden/gnuspeech-wasm) for the corpus builder: one
// Node process synthesises a batch of texts.
//
//   node gnuspeech_say.mjs NPM_FOLDER OUT_FOLDER < requests.jsonl
//
// NPM_FOLDER is the `npm install --prefix` folder that holds node_modules/@echogarden/gnuspeech-wasm.
// Each stdin line is a request {"text": "...", "voice": "male", "seed": 123}; for the request on
// line i (from 0) the script writes OUT_FOLDER/<i, 6 digits>.wav (16-bit mono PCM) and prints one
// stdout line, {"index": i, "wav": PATH} or {"index": i, "error": MESSAGE}, in input order.
//
// GnuSpeech draws one 4-byte seed from the platform per utterance (std::random_device, for its
// random intonation and pitch drift). The script answers that draw from a PRNG reset to the
// request's seed before each utterance, so the output depends on (text, voice, seed) only.
import { createRequire } from 'node:module'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createInterface } from 'node:readline'

const [npmFolder, outFolder] = process.argv.slice(2)
if (!npmFolder || !outFolder) {
	process.stderr.write('usage: node gnuspeech_say.mjs NPM_FOLDER OUT_FOLDER < requests.jsonl\n')
	process.exit(2)
}

const VOICES = ['male', 'female', 'large_child', 'small_child', 'baby']

// splitmix32: a small seeded generator (the seed is a 32-bit unsigned integer).
let state = 0
function nextUint32() {
	state = (state + 0x9e3779b9) >>> 0
	let z = state
	z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
	z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
	return (z ^ (z >>> 16)) >>> 0
}
globalThis.crypto.getRandomValues = (view) => {
	const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
	for (let i = 0; i < bytes.length; i++) {
		bytes[i] = nextUint32() & 0xff
	}
	return view
}

// The package's synthesize(), as in its dist/exports/GnuSpeech.js (0.3.0), with two changes: the
// previous utterance's ./out.wav is deleted first (on empty text the engine writes no file and its
// synthesize() would return the previous audio), and the module is re-instantiated after a failure.
const require = createRequire(join(npmFolder, 'package.json'))
const packageDir = dirname(require.resolve('@echogarden/gnuspeech-wasm/package.json'))
const fromPackage = (path) => import(pathToFileURL(join(packageDir, path)).href)
const { default: initializer } = await fromPackage('wasm/gnuspeech.js')
const { defaultTrmControlModelFileContent } = await fromPackage('dist/utilities/DefaultTrmControlModel.js')
const { wrapEmscriptenModuleHeap } = await import(
	pathToFileURL(createRequire(join(packageDir, 'package.json')).resolve('wasm-heap-manager')).href)
const dataPath = '/data/en'
let wasmModule = null

async function synthesize(text, voice) {
	wasmModule ??= await initializer()
	const m = wasmModule
	const config = defaultTrmControlModelFileContent.replace('voice_name = male', `voice_name = ${voice}`)
	m.FS.writeFile(`${dataPath}/trm_control_model.txt`, config)
	for (const file of ['./out.wav', './out-params.txt']) {
		try { m.FS.unlink(file) } catch { /* not there */ }
	}
	const manager = wrapEmscriptenModuleHeap(m)
	const refs = [text, './out.wav', dataPath, './out-params.txt'].map((s) => manager.allocNullTerminatedUtf8String(s))
	try {
		m._GnuSpeech_synthesizeToFile(...refs.map((r) => r.address), false)
		return m.FS.readFile('./out.wav')
	} finally {
		refs.forEach((r) => r.free())
	}
}

function describe(e) {
	if (typeof e === 'number') {
		return `the engine threw a C++ exception (${e})`
	}
	if (e?.name === 'ErrnoError') {
		return 'the engine wrote no audio'
	}
	return String(e?.message ?? e)
}

mkdirSync(outFolder, { recursive: true })
let index = 0
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
	if (!line.trim()) {
		continue
	}
	const i = index++
	try {
		const request = JSON.parse(line)
		if (!VOICES.includes(request.voice)) {
			throw new Error(`unknown voice ${JSON.stringify(request.voice)}`)
		}
		state = request.seed >>> 0
		const audioData = await synthesize(String(request.text), request.voice)
		const wav = join(outFolder, `${String(i).padStart(6, '0')}.wav`)
		writeFileSync(wav, audioData)
		process.stdout.write(JSON.stringify({ index: i, wav }) + '\n')
	} catch (e) {
		wasmModule = null
		process.stdout.write(JSON.stringify({ index: i, error: describe(e) }) + '\n')
	}
}
