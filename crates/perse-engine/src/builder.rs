//! Turns a parsed [`ModelFile`] into a runnable [`Graph`], validating everything first.
//!
//! A file that parses as JSON can still be wrong: a layer reading a value nobody wrote, a
//! weight whose shape does not match `cout x cin/group x kh x kw`, a zero stride, an op
//! this runner does not know. All of that is reported here, with the layer's name, so that
//! running the graph later can only fail on the caller's input size.

use std::collections::HashMap;

use crate::error::{EngineError, Result};
use crate::graph::{BlockPlan, Graph, Node, Op};
use crate::loader::{ModelFile, TensorData};
use crate::ops::conv::Conv;
use crate::ops::pool::PoolKind;
use crate::ops::simd::Isa;
use crate::ops::transpose::ConvTranspose2x2;
use crate::ops::Activation;
use crate::spec::LayerSpec;

/// Builds the graph, consuming the file's tensors.
pub fn build(file: ModelFile) -> Result<Graph> {
    let ModelFile {
        mut tensors,
        graph: spec,
        ..
    } = file;
    if spec.layers.is_empty() {
        return Err(EngineError::Graph("the layer list is empty".into()));
    }
    let mut ids: HashMap<String, usize> = HashMap::from([("input".to_string(), 0)]);
    let mut values = vec!["input".to_string()];
    let mut nodes = Vec::with_capacity(spec.layers.len());
    for l in &spec.layers {
        let bad = |r: String| EngineError::Graph(format!("layer `{}`: {r}", l.name));
        let inputs = l
            .inputs
            .iter()
            .map(|n| {
                ids.get(n)
                    .copied()
                    .ok_or_else(|| bad(format!("reads `{n}` before any layer writes it")))
            })
            .collect::<Result<Vec<_>>>()?;
        if ids.contains_key(&l.output) {
            return Err(bad(format!("writes `{}`, which already exists", l.output)));
        }
        let act = Activation::parse(l.activation.as_deref())
            .ok_or_else(|| bad(format!("unknown activation {:?}", l.activation)))?;
        let arity = match l.op.as_str() {
            "add" | "add_pad" => 2,
            "conv" | "conv_transpose" | "max_pool" | "avg_pool" | "global_avg_pool" | "fc" => 1,
            other => return Err(bad(format!("unsupported op `{other}`"))),
        };
        if inputs.len() != arity {
            return Err(bad(format!("op {} takes {arity} inputs, has {}", l.op, inputs.len())));
        }
        let (op, post_act) = build_op(l, act, &mut tensors).map_err(bad)?;
        let output = values.len();
        ids.insert(l.output.clone(), output);
        values.push(l.output.clone());
        nodes.push(Node {
            name: l.name.clone(),
            op,
            inputs,
            output,
            act: post_act,
        });
    }
    let mut last_reader = vec![None; values.len()];
    for (i, n) in nodes.iter().enumerate() {
        for &v in &n.inputs {
            last_reader[v] = Some(i);
        }
    }
    let fused = (0..nodes.len()).map(|i| fusable(&nodes, &last_reader, i)).collect();
    let mut blocks = vec![None; nodes.len()];
    let mut i = 0;
    while i < nodes.len() {
        match block_at(&nodes, &last_reader, i) {
            Some(b) => {
                blocks[i] = Some(b);
                i = b.last() + 1;
            }
            None => i += 1,
        }
    }
    Ok(Graph {
        nodes,
        values,
        last_reader,
        fused,
        blocks,
        isa: Isa::detect(),
        pool: Default::default(),
    })
}

/// The inverted-residual block starting at node `i`, if any: [pointwise conv →] depthwise
/// 3x3 / pad 1 conv → pointwise conv [→ residual add], each layer's output read only by the
/// next layer, every activation none or ReLU (see `ops/block.rs`).
fn block_at(nodes: &[Node], last_reader: &[Option<usize>], i: usize) -> Option<BlockPlan> {
    let conv = |j: usize| match nodes.get(j).map(|n| &n.op) {
        Some(Op::Conv(c)) if matches!(c.act, Activation::None | Activation::Relu) => Some(c),
        _ => None,
    };
    // Node j's output is node j+1's only input, and no later node reads it.
    let feeds_next = |j: usize| {
        let out = nodes[j].output;
        last_reader[out] == Some(j + 1) && nodes.get(j + 1).is_some_and(|n| n.inputs == [out])
    };
    let pointwise = |j: usize| conv(j).is_some_and(|c| !c.is_depthwise() && c.is_pointwise());
    let dw3x3 = |j: usize| {
        conv(j).is_some_and(|c| {
            c.is_depthwise() && [c.kh, c.kw] == [3, 3] && c.pads == [1; 4] && c.sy == c.sx && c.sy <= 2
        })
    };
    let (expand, dw) = if pointwise(i) && feeds_next(i) && dw3x3(i + 1) {
        (Some(i), i + 1)
    } else if dw3x3(i) {
        (None, i)
    } else {
        return None;
    };
    let project = dw + 1;
    if !(feeds_next(dw) && pointwise(project)) {
        return None;
    }
    Some(BlockPlan {
        expand,
        dw,
        project,
        add: fusable(nodes, last_reader, project),
    })
}

/// The add that conv node `i` can compute in its epilogue: the next node, an `add` or
/// `add_pad` reading the conv's output once, as its only reader, plus one other value (which
/// exists already: every value is written before node `i + 1`). Not after a sigmoid, which
/// the epilogue does not apply.
fn fusable(nodes: &[Node], last_reader: &[Option<usize>], i: usize) -> Option<usize> {
    let (node, next) = (&nodes[i], nodes.get(i + 1)?);
    let Op::Conv(conv) = &node.op else {
        return None;
    };
    let out = node.output;
    let reads_once = next.inputs.iter().filter(|&&v| v == out).count() == 1;
    let ok = matches!(next.op, Op::Add | Op::AddPad)
        && reads_once
        && last_reader[out] == Some(i + 1)
        && node.act == Activation::None
        && conv.act != Activation::Sigmoid;
    ok.then_some(i + 1)
}

/// The op, and the activation left for the runner (convs fuse theirs).
fn build_op(
    l: &LayerSpec,
    act: Activation,
    tensors: &mut HashMap<String, TensorData>,
) -> std::result::Result<(Op, Activation), String> {
    Ok(match l.op.as_str() {
        "conv" => (Op::Conv(conv(l, act, tensors)?), Activation::None),
        "conv_transpose" => (Op::ConvTranspose(conv_transpose(l, act, tensors)?), Activation::None),
        "add" => (Op::Add, act),
        "add_pad" => (Op::AddPad, act),
        "max_pool" | "avg_pool" => {
            let kind = if l.op == "max_pool" {
                PoolKind::Max
            } else {
                PoolKind::Avg
            };
            let kernel = nonzero(l.kernel, "kernel")?;
            let stride = nonzero(l.stride, "stride")?;
            if l.pads.is_some_and(|p| p != [0; 4]) {
                return Err("padded pooling is not supported".into());
            }
            (Op::Pool { kind, kernel, stride }, act)
        }
        "global_avg_pool" => (Op::GlobalAvgPool, act),
        "fc" => {
            let (cin, cout) = (req(l.cin, "cin")?, req(l.cout, "cout")?);
            let weight = take(tensors, l.weight.as_deref(), &[cin, cout])?;
            let bias = match l.bias.as_deref() {
                Some(b) => Some(take(tensors, Some(b), &[cout])?),
                None => None,
            };
            (
                Op::Fc {
                    weight,
                    bias,
                    cin,
                    cout,
                },
                act,
            )
        }
        other => return Err(format!("unsupported op `{other}`")),
    })
}

fn conv(
    l: &LayerSpec,
    act: Activation,
    tensors: &mut HashMap<String, TensorData>,
) -> std::result::Result<Conv, String> {
    let (cin, cout) = (req(l.cin, "cin")?, req(l.cout, "cout")?);
    let [kh, kw] = nonzero(l.kernel, "kernel")?;
    let [sy, sx] = nonzero(l.stride, "stride")?;
    let pads = l.pads.unwrap_or([0; 4]);
    let group = l.group.unwrap_or(1);
    if l.dilation.is_some_and(|d| d != [1, 1]) {
        return Err("dilation other than 1 is not supported".into());
    }
    let depthwise = group != 1;
    if depthwise && !(group == cin && group == cout) {
        return Err(format!(
            "grouped conv (group {group}, {cin} -> {cout}) is only supported as depthwise"
        ));
    }
    if cin == 0 || cout == 0 {
        return Err("zero channels".into());
    }
    let weight = take(tensors, l.weight.as_deref(), &[cout, cin / group, kh, kw])?;
    let bias = bias_or_zeros(tensors, l.bias.as_deref(), cout)?;
    Ok(Conv::new(
        cin,
        cout,
        [kh, kw],
        [sy, sx],
        pads,
        depthwise,
        weight,
        bias,
        act,
    ))
}

fn conv_transpose(
    l: &LayerSpec,
    act: Activation,
    tensors: &mut HashMap<String, TensorData>,
) -> std::result::Result<ConvTranspose2x2, String> {
    let (cin, cout) = (req(l.cin, "cin")?, req(l.cout, "cout")?);
    let plain = l.kernel == Some([2, 2])
        && l.stride == Some([2, 2])
        && l.pads.unwrap_or([0; 4]) == [0; 4]
        && l.group.unwrap_or(1) == 1
        && l.dilation.unwrap_or([1, 1]) == [1, 1];
    if !plain {
        return Err("only conv_transpose with kernel 2x2, stride 2, no padding, group 1 is supported".into());
    }
    let weight = take(tensors, l.weight.as_deref(), &[cin, cout, 2, 2])?;
    let bias = bias_or_zeros(tensors, l.bias.as_deref(), cout)?;
    Ok(ConvTranspose2x2::new(cin, cout, &weight, bias, act))
}

fn req(v: Option<usize>, what: &str) -> std::result::Result<usize, String> {
    v.ok_or_else(|| format!("missing `{what}`"))
}

fn nonzero(v: Option<[usize; 2]>, what: &str) -> std::result::Result<[usize; 2], String> {
    match v {
        Some(a) if a[0] > 0 && a[1] > 0 => Ok(a),
        Some(a) => Err(format!("`{what}` {a:?} has a zero")),
        None => Err(format!("missing `{what}`")),
    }
}

/// Moves a tensor out of the file, checking its shape.
fn take(
    tensors: &mut HashMap<String, TensorData>,
    name: Option<&str>,
    shape: &[usize],
) -> std::result::Result<Vec<f32>, String> {
    let name = name.ok_or("missing weight name")?;
    let t = tensors
        .remove(name)
        .ok_or_else(|| format!("tensor `{name}` is missing (or used twice)"))?;
    if t.shape != shape {
        return Err(format!(
            "tensor `{name}` has shape {:?}, the layer needs {shape:?}",
            t.shape
        ));
    }
    Ok(t.data)
}

fn bias_or_zeros(
    tensors: &mut HashMap<String, TensorData>,
    name: Option<&str>,
    cout: usize,
) -> std::result::Result<Vec<f32>, String> {
    match name {
        Some(_) => take(tensors, name, &[cout]),
        None => Ok(vec![0.0; cout]),
    }
}
