//! The bundle's wasm with its instance prepared at build time.
//!
//! A cold Lambda@Edge instance used to read the baked config, the bot
//! matcher's artifact and the verified-bot table in wasm (`new Edge`), and
//! V8 compiles each wasm function on its first call: the readers' code was
//! most of what a cold start compiled before its first request. So `cargo
//! xtask dist` does that reading once, at build time, in Node
//! (`xtask/prepare.cjs` calls the module's `prepare` export), and saves the
//! module's memory as it then is as the module's initial memory (its data
//! segments). A cold start instantiates the module with the instance read
//! already and only builds the matcher's literal index and the per-instance
//! state (`Edge.prepared()` in the shim).
//!
//! What this relies on, each checked here or in `prepare.cjs` (a module of
//! another shape fails the build, it is never shipped half-prepared):
//! - wasm-ld's layout: the stack first, below every data segment, with
//!   `__stack_pointer` the first global (a mutable `i32`). When `prepare`
//!   has returned, the stack is empty again and everything below its top is
//!   dead: the image leaves it out.
//! - One 32-bit memory, not shared; active data segments only, at constant
//!   offsets, and no code that names one (`memory.init`, `data.drop`). The
//!   image replaces them all: what they held is in memory.
//! - No other mutable global changes: the stack pointer is back where it
//!   started once `prepare` returns, and the module has no other.
//! - wasm-bindgen's externref table is not saved with the memory, so the
//!   slab that hands out its slots (in memory) must be as it started:
//!   `prepare.cjs` checks the table did not grow, and reads the memory
//!   without `wasm_memory()`, which would take a slot.

use anyhow::{Context, bail};
use wasmparser::{DataKind, Operator, Payload};

/// A wasm page.
pub const PAGE: usize = 65_536;

/// Zero runs shorter than this stay inside a data segment: a segment's own
/// bytes (flags, offset, length) cost about as much, and deflate makes zeros
/// nearly free.
const GAP: usize = 64;

/// A memory image: the memory's size in pages and its non-zero runs
/// (offset, bytes).
#[derive(Debug, PartialEq)]
pub struct Image {
    pub pages: u64,
    pub runs: Vec<(u32, Vec<u8>)>,
}

impl Image {
    /// The bytes the image's segments carry.
    pub fn bytes(&self) -> usize {
        self.runs.iter().map(|(_, r)| r.len()).sum()
    }
}

/// The stack's top (the initial `__stack_pointer`), checked to lie at or
/// below every data segment.
pub fn stack_top(wasm: &[u8]) -> anyhow::Result<u32> {
    let mut top = None;
    let mut lowest_data = u32::MAX;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::GlobalSection(globals) => {
                let Some(first) = globals.into_iter().next() else {
                    bail!("the wasm has no globals: no __stack_pointer to find the stack by");
                };
                let first = first?;
                if !(first.ty.mutable && first.ty.content_type == wasmparser::ValType::I32) {
                    bail!(
                        "the wasm's first global is not a mutable i32: not wasm-ld's __stack_pointer"
                    );
                }
                top = Some(const_i32(&first.init_expr).context("__stack_pointer's initial value")?);
            }
            Payload::DataSection(data) => {
                for segment in data {
                    if let DataKind::Active { offset_expr, .. } = segment?.kind {
                        lowest_data = lowest_data.min(const_i32(&offset_expr)?);
                    }
                }
            }
            _ => {}
        }
    }
    let Some(top) = top else {
        bail!("the wasm has no global section: no __stack_pointer to find the stack by");
    };
    if top > lowest_data {
        bail!(
            "the wasm's stack (top {top}) is not below its data (from {lowest_data}): not wasm-ld's stack-first layout"
        );
    }
    Ok(top)
}

/// An `i32.const N; end` constant expression's `N`, as an address.
fn const_i32(expr: &wasmparser::ConstExpr) -> anyhow::Result<u32> {
    let mut ops = expr.get_operators_reader();
    match (ops.read()?, ops.read()?) {
        (Operator::I32Const { value }, Operator::End) => Ok(value as u32),
        _ => bail!("a constant expression that is not `i32.const N`"),
    }
}

/// The image of `memory` (a prepared instance's memory, whole), leaving out
/// the dead stack below `stack_top`.
pub fn image(memory: &[u8], stack_top: u32) -> anyhow::Result<Image> {
    if memory.is_empty() || !memory.len().is_multiple_of(PAGE) {
        bail!(
            "a memory of {} bytes is not a whole number of wasm pages",
            memory.len()
        );
    }
    let mut runs: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut at = (stack_top as usize).min(memory.len());
    while let Some(start) = memory[at..].iter().position(|&b| b != 0).map(|p| at + p) {
        // The run ends at the first GAP zero bytes in a row (or the memory's end).
        let mut end = start;
        let mut zeros = 0;
        for (i, &b) in memory.iter().enumerate().skip(start) {
            if b == 0 {
                zeros += 1;
                if zeros == GAP {
                    break;
                }
            } else {
                zeros = 0;
                end = i + 1;
            }
        }
        let offset = u32::try_from(start).context("a memory over 4 GiB")?;
        runs.push((offset, memory[start..end].to_vec()));
        at = end;
    }
    Ok(Image {
        pages: (memory.len() / PAGE) as u64,
        runs,
    })
}

/// `wasm` with `image` as its initial memory: its data segments replaced by
/// the image's runs, its memory's initial size raised to the image's, every
/// other section as it was. The result is validated.
pub fn with_image(wasm: &[u8], image: &Image) -> anyhow::Result<Vec<u8>> {
    let mut module = wasm_encoder::Module::new();
    let mut memories = 0;
    let mut data_sections = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        match &payload {
            Payload::Version { .. } | Payload::End(_) => {}
            Payload::CodeSectionEntry(body) => {
                // Code that names a data segment (`memory.init`, `data.drop`)
                // would name another one once the image replaces them.
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    if let Operator::MemoryInit { .. } | Operator::DataDrop { .. } = ops.read()? {
                        bail!(
                            "the wasm's code names data segments (memory.init or data.drop): not a module this can prepare"
                        );
                    }
                }
            }
            Payload::MemorySection(reader) => {
                let mut section = wasm_encoder::MemorySection::new();
                for memory in reader.clone() {
                    let memory = memory?;
                    memories += 1;
                    if memory.memory64 || memory.shared || memory.page_size_log2.is_some() {
                        bail!("the wasm's memory is 64-bit, shared or of custom pages");
                    }
                    if memory.maximum.is_some_and(|max| max < image.pages) {
                        bail!(
                            "the prepared memory ({} pages) is over the wasm's maximum",
                            image.pages
                        );
                    }
                    section.memory(wasm_encoder::MemoryType {
                        minimum: memory.initial.max(image.pages),
                        maximum: memory.maximum,
                        memory64: false,
                        shared: false,
                        page_size_log2: None,
                    });
                }
                module.section(&section);
            }
            Payload::DataSection(reader) => {
                data_sections += 1;
                for segment in reader.clone() {
                    match segment?.kind {
                        DataKind::Active {
                            memory_index: 0,
                            offset_expr,
                        } => {
                            const_i32(&offset_expr)?;
                        }
                        _ => bail!(
                            "the wasm has a passive data segment or one for another memory: not one this can prepare"
                        ),
                    }
                }
                let mut section = wasm_encoder::DataSection::new();
                for (offset, bytes) in &image.runs {
                    section.active(
                        0,
                        &wasm_encoder::ConstExpr::i32_const(*offset as i32),
                        bytes.iter().copied(),
                    );
                }
                module.section(&section);
            }
            Payload::DataCountSection { .. } => {
                module.section(&wasm_encoder::DataCountSection {
                    count: image.runs.len() as u32,
                });
            }
            _ => {
                if let Some((id, range)) = payload.as_section() {
                    module.section(&wasm_encoder::RawSection {
                        id,
                        data: &wasm[range],
                    });
                }
            }
        }
    }
    if memories != 1 || data_sections != 1 {
        bail!(
            "the wasm has {memories} memories and {data_sections} data sections: not the one of each this can prepare"
        );
    }
    let out = module.finish();
    wasmparser::Validator::new()
        .validate_all(&out)
        .context("the prepared wasm does not validate")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 32-bit, unshared memory of `minimum` pages and no maximum.
    fn plain_memory(minimum: u64) -> wasm_encoder::MemoryType {
        wasm_encoder::MemoryType {
            minimum,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        }
    }

    /// A module of one function of type `[] -> []`, whose body is `body`'s
    /// instructions and `end`, one plain memory of `pages`, and data at 8.
    fn one_function(pages: u64, body: impl Fn(&mut wasm_encoder::InstructionSink)) -> Vec<u8> {
        use wasm_encoder::*;
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        let mut mems = MemorySection::new();
        mems.memory(plain_memory(pages));
        m.section(&mems);
        m.section(&DataCountSection { count: 1 });
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        body(&mut f.instructions());
        f.instructions().end();
        code.function(&f);
        m.section(&code);
        let mut d = DataSection::new();
        d.active(0, &ConstExpr::i32_const(8), b"x".iter().copied());
        m.section(&d);
        m.finish()
    }

    /// A module as wasm-ld lays one out: the stack pointer first, a memory,
    /// data above the stack, and a function reading a byte of memory.
    fn module(stack_top: i32, data_at: i32, data: &[u8]) -> Vec<u8> {
        use wasm_encoder::*;
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], [ValType::I32]);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        let mut mems = MemorySection::new();
        mems.memory(plain_memory(2));
        m.section(&mems);
        let mut globals = GlobalSection::new();
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(stack_top),
        );
        m.section(&globals);
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("load", ExportKind::Func, 0);
        m.section(&exports);
        m.section(&DataCountSection { count: 1 });
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instructions()
            .local_get(0)
            .i32_load8_u(MemArg {
                offset: 0,
                align: 0,
                memory_index: 0,
            })
            .end();
        code.function(&f);
        m.section(&code);
        let mut d = DataSection::new();
        d.active(0, &ConstExpr::i32_const(data_at), data.iter().copied());
        m.section(&d);
        m.section(&CustomSection {
            name: "keep".into(),
            data: b"me".as_slice().into(),
        });
        m.finish()
    }

    #[test]
    fn the_stack_top_is_the_first_global_below_the_data() {
        assert_eq!(stack_top(&module(1024, 1024, b"x")).unwrap(), 1024);
        assert_eq!(stack_top(&module(512, 1024, b"x")).unwrap(), 512);
        let err = stack_top(&module(2048, 1024, b"x")).unwrap_err();
        assert!(err.to_string().contains("stack-first"), "{err}");
    }

    /// A module of one memory of type `memory` and, with `data`, one data
    /// segment.
    fn memory_module(memory: wasm_encoder::MemoryType, data: bool) -> Vec<u8> {
        use wasm_encoder::*;
        let mut m = Module::new();
        let mut mems = MemorySection::new();
        mems.memory(memory);
        m.section(&mems);
        if data {
            let mut d = DataSection::new();
            d.active(0, &ConstExpr::i32_const(8), b"x".iter().copied());
            m.section(&d);
        }
        m.finish()
    }

    #[test]
    fn only_one_plain_memory_with_room_for_the_image_is_prepared() {
        let memory = |maximum, memory64, shared| wasm_encoder::MemoryType {
            maximum,
            memory64,
            shared,
            ..plain_memory(1)
        };
        let image = Image {
            pages: 3,
            runs: vec![(8, b"y".to_vec())],
        };
        // A maximum the image fits, exactly: prepared.
        assert!(with_image(&memory_module(memory(Some(3), false, false), true), &image).is_ok());
        for (refused, why) in [
            (
                memory_module(memory(Some(2), false, false), true),
                "a maximum under the image",
            ),
            (
                memory_module(memory(None, true, false), true),
                "a 64-bit memory",
            ),
            (
                memory_module(memory(Some(4), false, true), true),
                "a shared memory",
            ),
            (
                memory_module(memory(None, false, false), false),
                "no data section",
            ),
        ] {
            assert!(with_image(&refused, &image).is_err(), "{why}");
        }
    }

    #[test]
    fn the_stack_pointer_must_be_a_mutable_i32() {
        use wasm_encoder::*;
        for (val_type, mutable, init) in [
            (ValType::I32, false, ConstExpr::i32_const(1024)),
            (ValType::I64, true, ConstExpr::i64_const(1024)),
        ] {
            let mut m = Module::new();
            let mut globals = GlobalSection::new();
            globals.global(
                GlobalType {
                    val_type,
                    mutable,
                    shared: false,
                },
                &init,
            );
            m.section(&globals);
            let err = stack_top(&m.finish()).unwrap_err();
            assert!(err.to_string().contains("mutable i32"), "{err}");
        }
    }

    #[test]
    fn the_image_is_the_non_zero_runs_above_the_stack() {
        let mut memory = vec![0u8; PAGE * 2];
        memory[10] = 1; // on the stack: dead
        memory[1000] = 2;
        memory[1000 + GAP - 1] = 3; // GAP - 2 zeros between: one run
        memory[1000 + GAP + GAP] = 4; // GAP zeros and more after the last: a new run
        memory[PAGE * 2 - 1] = 5; // the memory's last byte
        let image = image(&memory, 512).unwrap();
        assert_eq!(image.pages, 2);
        let mut expected_first = vec![0u8; GAP];
        expected_first[0] = 2;
        expected_first[GAP - 1] = 3;
        assert_eq!(
            image.runs,
            vec![
                (1000, expected_first),
                ((1000 + 2 * GAP) as u32, vec![4]),
                ((PAGE * 2 - 1) as u32, vec![5]),
            ]
        );
        assert_eq!(image.bytes(), GAP + 2);
        // Every non-zero byte above the stack is in the image, at its place.
        let mut rebuilt = vec![0u8; memory.len()];
        for (at, bytes) in &image.runs {
            rebuilt[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
        }
        memory[10] = 0;
        assert_eq!(rebuilt, memory);
        assert!(super::image(&memory[..100], 0).is_err());
    }

    #[test]
    fn the_prepared_module_starts_with_the_image_and_keeps_the_rest() {
        let wasm = module(1024, 1024, b"old data");
        let image = Image {
            pages: 3,
            runs: vec![(1024, b"new".to_vec()), (PAGE as u32 * 2 + 7, vec![9])],
        };
        let out = with_image(&wasm, &image).unwrap();
        let mut data = Vec::new();
        let mut custom = None;
        let mut pages = None;
        let mut count = None;
        let mut code = 0;
        for payload in wasmparser::Parser::new(0).parse_all(&out) {
            match payload.unwrap() {
                Payload::DataSection(r) => {
                    for s in r {
                        let s = s.unwrap();
                        let DataKind::Active { offset_expr, .. } = s.kind else {
                            panic!("passive")
                        };
                        data.push((const_i32(&offset_expr).unwrap(), s.data.to_vec()));
                    }
                }
                Payload::MemorySection(r) => {
                    pages = Some(r.into_iter().next().unwrap().unwrap().initial)
                }
                Payload::DataCountSection { count: c, .. } => count = Some(c),
                Payload::CodeSectionEntry(_) => code += 1,
                Payload::CustomSection(c) => {
                    custom = Some((c.name().to_owned(), c.data().to_vec()))
                }
                _ => {}
            }
        }
        assert_eq!(data, image.runs);
        assert_eq!(pages, Some(3));
        assert_eq!(count, Some(2));
        assert_eq!(code, 1);
        assert_eq!(custom, Some(("keep".to_owned(), b"me".to_vec())));
        // An image larger than the module's maximum, or a module with a
        // passive segment, is refused.
        let passive = {
            let mut m = wasm_encoder::Module::new();
            let mut mems = wasm_encoder::MemorySection::new();
            mems.memory(plain_memory(1));
            m.section(&mems);
            m.section(&wasm_encoder::DataCountSection { count: 1 });
            let mut d = wasm_encoder::DataSection::new();
            d.passive(b"x".iter().copied());
            m.section(&d);
            m.finish()
        };
        assert!(with_image(&passive, &image).is_err());
        // Nor code that names a data segment.
        let drops = one_function(1, |f| {
            f.data_drop(0);
        });
        wasmparser::Validator::new().validate_all(&drops).unwrap();
        let err = with_image(&drops, &image).unwrap_err();
        assert!(err.to_string().contains("names data segments"), "{err}");
    }

    /// A module that imports a function, then defines six: `kept`
    /// (exported) calls `callee`, which calls `kept` back; `dropped`
    /// (exported, then left out) calls `only_dropped`; `in_table` is a table
    /// element, named by index or, with `by_expression`, by a `ref.func`
    /// expression; `started` is the start function. The import shifts every
    /// defined function's index by one.
    fn five(by_expression: bool) -> Vec<u8> {
        use wasm_encoder::*;
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], [ValType::I32]);
        types.ty().function([], []);
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import("env", "imported", EntityType::Function(0));
        m.section(&imports);
        let mut funcs = FunctionSection::new();
        for _ in 0..5 {
            funcs.function(0);
        }
        funcs.function(1);
        m.section(&funcs);
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            minimum: 1,
            maximum: Some(1),
            table64: false,
            shared: false,
        });
        m.section(&tables);
        let mut exports = ExportSection::new();
        exports.export("kept", ExportKind::Func, 1);
        exports.export("dropped", ExportKind::Func, 3);
        m.section(&exports);
        m.section(&StartSection { function_index: 6 });
        let mut elems = ElementSection::new();
        let by_ref = [ConstExpr::ref_func(5)];
        elems.active(
            Some(0),
            &ConstExpr::i32_const(0),
            if by_expression {
                Elements::Expressions(RefType::FUNCREF, std::borrow::Cow::Borrowed(&by_ref))
            } else {
                Elements::Functions(std::borrow::Cow::Borrowed(&[5]))
            },
        );
        m.section(&elems);
        let mut code = CodeSection::new();
        for (calls, value) in [
            (Some(2), 0),
            (Some(1), 1),
            (Some(4), 2),
            (None, 3),
            (None, 4),
        ] {
            let mut f = Function::new([]);
            match calls {
                Some(g) => f.instructions().call(g).end(),
                None => f.instructions().i32_const(value).end(),
            };
            code.function(&f);
        }
        let mut started = Function::new([]);
        started.instructions().end();
        code.function(&started);
        m.section(&code);
        m.finish()
    }

    #[test]
    fn strip_leaves_out_what_only_the_dropped_exports_reach() {
        for by_expression in [false, true] {
            strips_what_only_dropped_reaches(by_expression);
        }
    }

    fn strips_what_only_dropped_reaches(by_expression: bool) {
        let wasm = five(by_expression);
        let (out, stripped) = strip(&wasm, &["dropped"]).unwrap();
        assert_eq!(stripped.functions, 2);
        let sizes: Vec<usize> = wasmparser::Parser::new(0)
            .parse_all(&wasm)
            .filter_map(|p| match p.unwrap() {
                Payload::CodeSectionEntry(body) => Some(body.range().len()),
                _ => None,
            })
            .collect();
        assert_eq!(stripped.bytes, sizes[2] + sizes[3]);
        let mut bodies = Vec::new();
        let mut exports = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&out) {
            match payload.unwrap() {
                Payload::CodeSectionEntry(body) => {
                    let mut ops = body.get_operators_reader().unwrap();
                    bodies.push(matches!(ops.read().unwrap(), Operator::Unreachable));
                }
                Payload::ExportSection(r) => {
                    exports = r.into_iter().map(|e| e.unwrap().name.to_owned()).collect();
                }
                _ => {}
            }
        }
        // `dropped` and `only_dropped` are stubs; `kept`, its callee, the
        // table element and the start function are as they were, at the
        // same indices.
        assert_eq!(bodies, [false, false, true, true, false, false]);
        assert_eq!(exports, ["kept"]);
        // Nothing dropped, nothing stripped; an export that is not there is an error.
        assert_eq!(strip(&wasm, &[]).unwrap().1.functions, 0);
        assert!(strip(&wasm, &["missing"]).is_err());
    }
}

/// What [`strip`] left out.
#[derive(Debug, PartialEq)]
pub struct Stripped {
    /// Function bodies replaced by `unreachable`.
    pub functions: usize,
    /// Their bytes in the code section before.
    pub bytes: usize,
}

/// `wasm` without the exports `drop` names and with the body of every
/// function that nothing left can reach (no export, the start function, no
/// table element, no `ref.func`, no call from a reachable function) replaced
/// by `unreachable`: the functions keep their indices and types, so nothing
/// else in the module (the table, the memory image's function pointers)
/// changes. Each name in `drop` must be an export.
pub fn strip(wasm: &[u8], drop: &[&str]) -> anyhow::Result<(Vec<u8>, Stripped)> {
    use std::collections::HashSet;
    let mut imported = 0u32;
    let mut roots: Vec<u32> = Vec::new();
    let mut dropped = HashSet::new();
    let mut calls: Vec<Vec<u32>> = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    if matches!(import?.ty, wasmparser::TypeRef::Func(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export = export?;
                    if drop.contains(&export.name) {
                        dropped.insert(export.name.to_owned());
                    } else if export.kind == wasmparser::ExternalKind::Func {
                        roots.push(export.index);
                    }
                }
            }
            Payload::StartSection { func, .. } => roots.push(func),
            Payload::ElementSection(elements) => {
                for element in elements {
                    match element?.items {
                        wasmparser::ElementItems::Functions(fs) => {
                            for f in fs {
                                roots.push(f?);
                            }
                        }
                        wasmparser::ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                let mut ops = expr?.get_operators_reader();
                                while !ops.eof() {
                                    if let Operator::RefFunc { function_index } = ops.read()? {
                                        roots.push(function_index);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut out = Vec::new();
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    match ops.read()? {
                        Operator::Call { function_index }
                        | Operator::ReturnCall { function_index }
                        | Operator::RefFunc { function_index } => out.push(function_index),
                        _ => {}
                    }
                }
                calls.push(out);
                sizes.push(body.range().len());
            }
            _ => {}
        }
    }
    if let Some(missing) = drop.iter().find(|d| !dropped.contains(**d)) {
        bail!("the wasm has no export `{missing}` to leave out");
    }
    // Reachable defined functions, by index from the first defined one.
    let mut reached = vec![false; calls.len()];
    let mut todo = roots;
    while let Some(f) = todo.pop() {
        let Some(i) = f.checked_sub(imported).map(|i| i as usize) else {
            continue;
        };
        if i < reached.len() && !reached[i] {
            reached[i] = true;
            todo.extend(&calls[i]);
        }
    }
    let mut module = wasm_encoder::Module::new();
    let mut stripped = Stripped {
        functions: 0,
        bytes: 0,
    };
    let mut code = wasm_encoder::CodeSection::new();
    let mut next = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        match &payload {
            Payload::Version { .. } | Payload::End(_) | Payload::CodeSectionStart { .. } => {}
            Payload::CodeSectionEntry(body) => {
                if reached[next] {
                    code.raw(&wasm[body.range()]);
                } else {
                    let mut f = wasm_encoder::Function::new([]);
                    f.instructions().unreachable().end();
                    code.function(&f);
                    stripped.functions += 1;
                    stripped.bytes += sizes[next];
                }
                next += 1;
                if next == reached.len() {
                    module.section(&code);
                }
            }
            Payload::ExportSection(reader) => {
                let mut section = wasm_encoder::ExportSection::new();
                for export in reader.clone() {
                    let export = export?;
                    if drop.contains(&export.name) {
                        continue;
                    }
                    let kind = match export.kind {
                        wasmparser::ExternalKind::Func => wasm_encoder::ExportKind::Func,
                        wasmparser::ExternalKind::Table => wasm_encoder::ExportKind::Table,
                        wasmparser::ExternalKind::Memory => wasm_encoder::ExportKind::Memory,
                        wasmparser::ExternalKind::Global => wasm_encoder::ExportKind::Global,
                        other => bail!("an export of kind {other:?}"),
                    };
                    section.export(export.name, kind, export.index);
                }
                module.section(&section);
            }
            _ => {
                if let Some((id, range)) = payload.as_section() {
                    module.section(&wasm_encoder::RawSection {
                        id,
                        data: &wasm[range],
                    });
                }
            }
        }
    }
    let out = module.finish();
    wasmparser::Validator::new()
        .validate_all(&out)
        .context("the stripped wasm does not validate")?;
    Ok((out, stripped))
}
