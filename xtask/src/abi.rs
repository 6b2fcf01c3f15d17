//! The bundle's exports return one value each.
//!
//! V8 calls a wasm export from JavaScript through a JS-to-wasm wrapper. One
//! generic wrapper serves every signature that returns at most one value;
//! for each other signature, V8 (11.3, Node 20) compiles a wrapper of its
//! own with TurboFan when the module is compiled, whether or not the export
//! is ever called: about 0.23 ms each on the build machine, on every cold
//! start (docs/benchmarks.md, "Exports that return one value").
//!
//! wasm-bindgen returns a string or a `Result` as several values when the
//! module it is given lists `multivalue` in its `target_features` section
//! (Rust lists it on `wasm32-unknown-unknown` since 1.82, in the standard
//! library's objects, whatever the crate's own flags say), and through a
//! return pointer on the shadow stack otherwise. So `cargo xtask dist` hands
//! wasm-bindgen a copy without that entry ([`without_multivalue`]); the code
//! is the same (rustc's C ABI returns aggregates through a pointer either
//! way), only wasm-bindgen's export shims differ. Then it checks the module
//! it ships ([`multi_value_exports`]): a later wasm-bindgen that returned
//! several values anyway fails the build rather than slowing every cold
//! start.

use anyhow::Context;
use wasmparser::{BinaryReader, Payload, TypeRef};

/// The custom section where wasm-ld records the features the code uses.
const TARGET_FEATURES: &str = "target_features";

/// `wasm` without `multivalue` in its `target_features` section, every other
/// byte as it was; unchanged when it has no such section or entry.
pub fn without_multivalue(wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut module = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        match &payload {
            Payload::CustomSection(section) if section.name() == TARGET_FEATURES => {
                let mut reader = BinaryReader::new(section.data(), 0);
                let count = reader.read_var_u32()?;
                let mut data = Vec::new();
                let mut kept = 0u32;
                for _ in 0..count {
                    let prefix = reader.read_u8()?;
                    let name = reader.read_string()?;
                    if name != "multivalue" {
                        kept += 1;
                        data.push(prefix);
                        wasm_encoder::Encode::encode(name, &mut data);
                    }
                }
                if !reader.eof() {
                    anyhow::bail!(
                        "the wasm's {TARGET_FEATURES} section has bytes after its entries"
                    );
                }
                let mut body = Vec::new();
                wasm_encoder::Encode::encode(&kept, &mut body);
                body.extend_from_slice(&data);
                module.section(&wasm_encoder::CustomSection {
                    name: TARGET_FEATURES.into(),
                    data: body.into(),
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
    Ok(module.finish())
}

/// The names of `wasm`'s exported functions that return more than one value.
pub fn multi_value_exports(wasm: &[u8]) -> anyhow::Result<Vec<String>> {
    // Function index -> type index: imported functions first, then the
    // module's own.
    let mut func_types: Vec<u32> = Vec::new();
    let mut results: Vec<usize> = Vec::new();
    let mut exports: Vec<(String, u32)> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    results.push(ty?.results().len());
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(ty) = import?.ty {
                        func_types.push(ty);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == wasmparser::ExternalKind::Func {
                        exports.push((export.name.to_owned(), export.index));
                    }
                }
            }
            _ => {}
        }
    }
    let mut multi = Vec::new();
    for (name, index) in exports {
        let ty = *func_types
            .get(index as usize)
            .with_context(|| format!("export {name} names function {index}, which is not there"))?;
        let returned = *results
            .get(ty as usize)
            .with_context(|| format!("function {index} has type {ty}, which is not there"))?;
        if returned > 1 {
            multi.push(name);
        }
    }
    Ok(multi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, CustomSection, EntityType, ExportKind, ExportSection, Function,
        FunctionSection, ImportSection, Instruction, Module, TypeSection, ValType,
    };

    fn target_features(entries: &[(u8, &str)]) -> Vec<u8> {
        let mut data = Vec::new();
        wasm_encoder::Encode::encode(&(entries.len() as u32), &mut data);
        for (prefix, name) in entries {
            data.push(*prefix);
            wasm_encoder::Encode::encode(*name, &mut data);
        }
        data
    }

    /// A module importing one function of type 0, defining one function per
    /// type in `returns` (that many i32 results), each exported as `f{i}`,
    /// and ending with a `target_features` section of `features`.
    fn module(returns: &[usize], features: Option<&[(u8, &str)]>) -> Vec<u8> {
        let mut types = TypeSection::new();
        for &n in returns {
            types.ty().function([], vec![ValType::I32; n]);
        }
        let mut imports = ImportSection::new();
        imports.import("env", "imported", EntityType::Function(0));
        let mut funcs = FunctionSection::new();
        let mut exports = ExportSection::new();
        let mut code = CodeSection::new();
        for (i, &n) in returns.iter().enumerate() {
            funcs.function(i as u32);
            // Function indices count the import first.
            exports.export(&format!("f{i}"), ExportKind::Func, i as u32 + 1);
            let mut body = Function::new([]);
            for _ in 0..n {
                body.instruction(&Instruction::I32Const(0));
            }
            body.instruction(&Instruction::End);
            code.function(&body);
        }
        let mut m = Module::new();
        m.section(&types)
            .section(&imports)
            .section(&funcs)
            .section(&exports)
            .section(&code);
        if let Some(features) = features {
            m.section(&CustomSection {
                name: TARGET_FEATURES.into(),
                data: target_features(features).into(),
            });
        }
        m.finish()
    }

    fn features_of(wasm: &[u8]) -> Option<Vec<u8>> {
        wasmparser::Parser::new(0)
            .parse_all(wasm)
            .find_map(|p| match p.unwrap() {
                Payload::CustomSection(s) if s.name() == TARGET_FEATURES => Some(s.data().to_vec()),
                _ => None,
            })
    }

    #[test]
    fn only_the_multivalue_entry_goes_and_every_other_section_stays() {
        let features = [
            (b'+', "bulk-memory"),
            (b'+', "multivalue"),
            (b'+', "sign-ext"),
        ];
        let wasm = module(&[0, 1, 2], Some(&features));
        let out = without_multivalue(&wasm).unwrap();
        assert_eq!(
            features_of(&out).unwrap(),
            target_features(&[(b'+', "bulk-memory"), (b'+', "sign-ext")])
        );
        // Everything before the custom section is byte for byte the same.
        let cut = module(&[0, 1, 2], None);
        assert_eq!(&out[..cut.len()], &cut[..]);
        wasmparser::Validator::new().validate_all(&out).unwrap();
    }

    #[test]
    fn a_module_without_the_entry_or_the_section_is_unchanged() {
        let features = [(b'+', "bulk-memory"), (b'-', "simd128")];
        let wasm = module(&[1], Some(&features));
        assert_eq!(without_multivalue(&wasm).unwrap(), wasm);
        let bare = module(&[1], None);
        assert_eq!(without_multivalue(&bare).unwrap(), bare);
    }

    #[test]
    fn other_custom_sections_are_copied_as_they_are() {
        // A custom section that does not parse as a feature list, then one
        // that would lose an entry if it were read as one.
        let mut m = Module::new();
        m.section(&CustomSection {
            name: "producers".into(),
            data: vec![5, 1, 2].into(),
        });
        m.section(&CustomSection {
            name: "notes".into(),
            data: target_features(&[(b'+', "multivalue")]).into(),
        });
        let wasm = m.finish();
        assert_eq!(without_multivalue(&wasm).unwrap(), wasm);
    }

    #[test]
    fn a_target_features_section_with_trailing_bytes_is_refused() {
        let mut data = target_features(&[(b'+', "multivalue")]);
        data.push(7);
        let mut m = Module::new();
        m.section(&CustomSection {
            name: TARGET_FEATURES.into(),
            data: data.into(),
        });
        assert!(without_multivalue(&m.finish()).is_err());
    }

    #[test]
    fn exports_returning_several_values_are_named_counting_imports() {
        // f0 returns nothing, f1 one value, f2 two, f3 three; the import
        // (type 0) shifts every function index by one.
        let wasm = module(&[0, 1, 2, 3], None);
        assert_eq!(multi_value_exports(&wasm).unwrap(), ["f2", "f3"]);
        assert!(
            multi_value_exports(&module(&[0, 1, 1], None))
                .unwrap()
                .is_empty()
        );
    }
}
