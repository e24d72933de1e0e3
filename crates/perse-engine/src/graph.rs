//! Runs a built layer list in order, keeping each value only until its last reader.
//!
//! Value names are resolved to indices when the graph is built (`builder.rs`), so running is
//! a loop over nodes with a `Vec<Option<Tensor>>` of live values. A value whose last reader
//! has run is dropped at once; CenterFace's skip connections (values read ~40 layers later)
//! are the only long-lived ones. Outputs are the values no layer reads.

use std::collections::HashMap;

use crate::error::{EngineError, Result};
use crate::ops::buffers::Buffers;
use crate::ops::conv::Conv;
use crate::ops::pool::{self, PoolKind};
use crate::ops::transpose::ConvTranspose2x2;
use crate::ops::{elementwise, Activation};
use crate::tensor::Tensor;

/// What a node computes.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Conv with its activation fused in.
    Conv(Conv),
    /// ConvTranspose 2x2 stride 2 with its activation fused in.
    ConvTranspose(ConvTranspose2x2),
    Add,
    AddPad,
    Pool {
        kind: PoolKind,
        kernel: [usize; 2],
        stride: [usize; 2],
    },
    GlobalAvgPool,
    Fc {
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
        cin: usize,
        cout: usize,
    },
}

/// One layer: op, input/output value indices and the activation for ops that do not fuse it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<usize>,
    pub output: usize,
    pub act: Activation,
}

/// A runnable network.
#[derive(Debug, Clone)]
pub struct Graph {
    pub(crate) nodes: Vec<Node>,
    /// Value names by index; index 0 is `input`.
    pub(crate) values: Vec<String>,
    /// For each value, the index of the last node reading it (`None`: a graph output).
    pub(crate) last_reader: Vec<Option<usize>>,
}

impl Graph {
    /// Number of layers.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True for a graph without layers (never produced by the builder).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Names of the values no layer reads: the network's outputs.
    pub fn output_names(&self) -> Vec<&str> {
        (1..self.values.len())
            .filter(|&v| self.last_reader[v].is_none())
            .map(|v| self.values[v].as_str())
            .collect()
    }

    /// Runs the network on `input` (CHW) and returns its outputs by name. With `keep_all`,
    /// every intermediate value is returned too (for per-layer comparisons in tests).
    pub fn run(&self, input: Tensor, threads: usize, keep_all: bool) -> Result<HashMap<String, Tensor>> {
        let mut live: Vec<Option<Tensor>> = vec![None; self.values.len()];
        live[0] = Some(input);
        let mut kept = HashMap::new();
        let mut buf = Buffers::default();
        for (idx, node) in self.nodes.iter().enumerate() {
            let ins: Vec<&Tensor> = node
                .inputs
                .iter()
                .map(|&v| {
                    live[v]
                        .as_ref()
                        .ok_or_else(|| EngineError::layer(&node.name, "input value is not live"))
                })
                .collect::<Result<_>>()?;
            let mut y = eval(node, &ins, threads, &mut buf).map_err(|r| EngineError::layer(&node.name, r))?;
            node.act.apply(&mut y.data);
            for &v in &node.inputs {
                // A value read twice by this node (`add y, y`) is taken on the first match.
                if self.last_reader[v] == Some(idx) {
                    if let Some(t) = live[v].take() {
                        if keep_all && v != 0 {
                            kept.insert(self.values[v].clone(), t);
                        } else {
                            buf.give(t.data);
                        }
                    }
                }
            }
            live[node.output] = Some(y);
        }
        for (v, t) in live.into_iter().enumerate().skip(1) {
            if let Some(t) = t {
                kept.insert(self.values[v].clone(), t);
            }
        }
        Ok(kept)
    }
}

fn eval(node: &Node, ins: &[&Tensor], threads: usize, buf: &mut Buffers) -> std::result::Result<Tensor, String> {
    let arity = match node.op {
        Op::Add | Op::AddPad => 2,
        _ => 1,
    };
    if ins.len() != arity {
        return Err(format!("expects {arity} inputs, has {}", ins.len()));
    }
    let x = ins[0];
    match &node.op {
        Op::Conv(c) => c.forward(x, threads, buf),
        Op::ConvTranspose(c) => c.forward(x, threads, buf),
        Op::Add => elementwise::add(x, ins[1], buf),
        Op::AddPad => Ok(elementwise::add_pad(x, ins[1], buf)),
        Op::Pool { kind, kernel, stride } => pool::pool(x, *kernel, *stride, *kind, buf),
        Op::GlobalAvgPool => Ok(pool::global_avg_pool(x)),
        Op::Fc {
            weight,
            bias,
            cin,
            cout,
        } => pool::fc(x, weight, bias.as_deref(), *cin, *cout),
    }
}
