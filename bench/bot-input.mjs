// Classifying through BotMatcher's input buffer, the way the shim passes a
// request to Edge.decide_input: the user-agent is written into wasm memory
// with TextEncoder.encodeInto (native code, no allocation), not passed as a
// string argument, which wasm-bindgen's glue copies one character at a time
// in JavaScript. Used by bench/bots.mjs and tests/node/bot_matcher.mjs.
//   const isBot = inputPath(matcher, glue.__wasm_memory);
//   isBot(ua) // true or false, as matcher.is_bot(ua)
const encoder = new TextEncoder();

export function inputPath(matcher, memory) {
  let view = null;
  return (ua) => {
    // A view made again whenever the memory grows: growing detaches the old
    // buffer, and a view of a detached buffer has length 0.
    if (view === null || view.length === 0) {
      view = new Uint8Array(memory.buffer, matcher.input_ptr(), matcher.input_len());
    }
    const { read, written } = encoder.encodeInto(ua, view);
    // Too long for the buffer: as a string.
    if (read < ua.length) return matcher.is_bot(ua);
    const code = matcher.is_bot_input(written);
    if (code === 2) throw new Error(`is_bot_input refused ${written} bytes it was given`);
    return code === 1;
  };
}
