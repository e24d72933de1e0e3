//! Runs a built layer list in order, keeping each value only until its last reader.
//!
//! Value names are resolved to indices when the graph is built (`builder.rs`), so running is
//! a loop over nodes with a `Vec<Option<Tensor>>` of live values. A value whose last reader
//! has run is dropped at once; CenterFace's skip connections (values read ~40 layers later)
//! are the only long-lived ones. Outputs are the values no layer reads.
//!
//! A conv whose only reader is the residual `add` right after it computes that add too (in
//! its GEMM's epilogue, see [`Residual`]): the conv's own output is never stored. Every
//! MobileNetV2 projection, CenterFace's lateral convs and dlib's residual blocks have that
//! shape. Runs that keep every intermediate value (`keep_all`, for per-layer checks) run the
//! layers one by one instead.

use std::collections::HashMap;

use crate::error::{EngineError, Result};
use crate::ops::block::Block;
use crate::ops::buffers::{Buffers, Pool};
use crate::ops::conv::{Conv, Residual};
use crate::ops::pool::{self, PoolKind};
use crate::ops::simd::Isa;
use crate::ops::transpose::ConvTranspose2x2;
use crate::ops::{elementwise, Activation, Ctx};
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

/// Node indices of an inverted-residual block run as one op (`ops/block.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockPlan {
    pub expand: Option<usize>,
    pub dw: usize,
    pub project: usize,
    /// The residual add after the projection, fused into it.
    pub add: Option<usize>,
}

impl BlockPlan {
    /// The block's last node.
    pub fn last(&self) -> usize {
        self.add.unwrap_or(self.project)
    }
}

/// How long one step of a [`Graph::profile`] run took.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTime {
    /// The layer's name (a conv fused with the add after it: the conv's).
    pub name: String,
    /// What kind of op: `conv1x1`, `conv`, `depthwise`, `conv_transpose`, `add`, ...
    pub op: &'static str,
    /// Output shape `[c, h, w]`.
    pub shape: [usize; 3],
    pub seconds: f64,
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Conv(c) => c.kind(),
            Op::ConvTranspose(_) => "conv_transpose",
            Op::Add => "add",
            Op::AddPad => "add_pad",
            Op::Pool {
                kind: PoolKind::Max, ..
            } => "max_pool",
            Op::Pool {
                kind: PoolKind::Avg, ..
            } => "avg_pool",
            Op::GlobalAvgPool => "global_avg_pool",
            Op::Fc { .. } => "fc",
        }
    }
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
    /// For each node, the residual add it computes too (always the next node), if any.
    pub(crate) fused: Vec<Option<usize>>,
    /// For each node, the inverted-residual block that starts there, if any.
    pub(crate) blocks: Vec<Option<BlockPlan>>,
    /// The kernel set the ops use.
    pub(crate) isa: Isa,
    /// Buffers kept between runs.
    pub(crate) pool: Pool,
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

    /// The kernel set this graph runs with (by default the best this CPU supports).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Runs with another kernel set (one this CPU lacks falls back to the portable kernels);
    /// for tests and benchmarks.
    pub fn with_isa(mut self, isa: Isa) -> Self {
        self.isa = isa;
        self
    }

    /// Runs the dense convs that have a window (not 1x1) on 8-bit integers (`ops/qconv.rs`);
    /// returns how many there are.
    pub(crate) fn int8_convs(&mut self) -> usize {
        let mut count = 0;
        for node in &mut self.nodes {
            if let Op::Conv(c) = &mut node.op {
                count += usize::from(c.quantize());
            }
        }
        count
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
        self.run_timed(input, threads, keep_all, None)
    }

    /// Runs the network and reports how long each step took (a fused conv and add are one
    /// step, named after the conv), in order: for benchmarks and profiles.
    pub fn profile(&self, input: Tensor, threads: usize) -> Result<Vec<LayerTime>> {
        let mut times = Vec::with_capacity(self.nodes.len());
        self.run_timed(input, threads, false, Some(&mut times))?;
        Ok(times)
    }

    /// The multiply-adds one run on `input` computes (convs, transposed convs, the fully
    /// connected layer: the work of the FMA units; pools and adds are not counted), as the
    /// network defines them, whatever the kernels skip or pad: for benchmarks, to put a
    /// time against the machine's peak (`npm run bench:engine`). Runs the network once.
    pub fn multiply_adds(&self, input: Tensor) -> Result<u64> {
        let values = self.run(input, 1, true)?;
        let mut total = 0u64;
        for node in &self.nodes {
            let Some(y) = values.get(&self.values[node.output]) else {
                continue;
            };
            let pixels = (y.c * y.h * y.w) as u64;
            total += match &node.op {
                Op::Conv(c) => {
                    let per_channel = if c.is_depthwise() { 1 } else { c.cin };
                    pixels * (per_channel * c.kh * c.kw) as u64
                }
                // Each output value is one tap of each input channel.
                Op::ConvTranspose(t) => pixels * t.cin as u64,
                Op::Fc { cin, cout, .. } => (cin * cout) as u64,
                _ => 0,
            };
        }
        Ok(total)
    }

    fn run_timed(
        &self,
        input: Tensor,
        threads: usize,
        keep_all: bool,
        mut times: Option<&mut Vec<LayerTime>>,
    ) -> Result<HashMap<String, Tensor>> {
        let ctx = Ctx {
            threads: threads.max(1),
            isa: self.isa,
        };
        let mut live: Vec<Option<Tensor>> = vec![None; self.values.len()];
        live[0] = Some(input);
        let mut kept = HashMap::new();
        let mut buf = self.pool.take();
        // Nodes before `next` were computed by a fused step already.
        let mut next = 0;
        for (idx, node) in self.nodes.iter().enumerate() {
            if idx < next {
                continue;
            }
            let started = times.as_ref().map(|_| std::time::Instant::now());
            if let Some(plan) = self.blocks[idx].filter(|_| !keep_all) {
                if let Some((y, output)) = self.run_block(&plan, &live, ctx, &mut buf)? {
                    for j in idx..=plan.last() {
                        self.release(&mut live, &self.nodes[j], j, keep_all, &mut kept, &mut buf);
                    }
                    if let (Some(times), Some(t)) = (times.as_deref_mut(), started) {
                        times.push(LayerTime {
                            name: node.name.clone(),
                            op: "block",
                            shape: y.shape(),
                            seconds: t.elapsed().as_secs_f64(),
                        });
                    }
                    live[output] = Some(y);
                    next = plan.last() + 1;
                    continue;
                }
            }
            let get = |v: usize| {
                live[v]
                    .as_ref()
                    .ok_or_else(|| EngineError::layer(&node.name, "input value is not live"))
            };
            let ins: Vec<&Tensor> = node.inputs.iter().map(|&v| get(v)).collect::<Result<_>>()?;
            let fused = self.fused[idx].filter(|_| !keep_all).and_then(|j| {
                let add = &self.nodes[j];
                let other = add.inputs.iter().copied().find(|&v| v != node.output)?;
                Some((j, add, other))
            });
            let (y, output) = match (&node.op, fused) {
                (Op::Conv(c), Some((j, add, other))) => {
                    let res = Residual {
                        other: get(other)?,
                        pad: matches!(add.op, Op::AddPad),
                        act: add.act,
                    };
                    let x = ins.first().ok_or_else(|| EngineError::layer(&node.name, "no input"))?;
                    let y = c
                        .forward(x, Some(res), ctx, &mut buf)
                        .map_err(|r| EngineError::layer(&add.name, r))?;
                    next = j + 1;
                    self.release(&mut live, add, j, keep_all, &mut kept, &mut buf);
                    (y, add.output)
                }
                _ => {
                    let mut y = eval(node, &ins, ctx, &mut buf).map_err(|r| EngineError::layer(&node.name, r))?;
                    node.act.apply(&mut y.data);
                    (y, node.output)
                }
            };
            self.release(&mut live, node, idx, keep_all, &mut kept, &mut buf);
            if let (Some(times), Some(t)) = (times.as_deref_mut(), started) {
                times.push(LayerTime {
                    name: node.name.clone(),
                    op: node.op.kind(),
                    shape: y.shape(),
                    seconds: t.elapsed().as_secs_f64(),
                });
            }
            live[output] = Some(y);
        }
        self.pool.put(buf);
        for (v, t) in live.into_iter().enumerate().skip(1) {
            if let Some(t) = t {
                kept.insert(self.values[v].clone(), t);
            }
        }
        Ok(kept)
    }

    /// Runs an inverted-residual block as one op; `None` when it runs layer by layer instead
    /// (see `Block::forward`). Returns the output and the value it is.
    fn run_block(
        &self,
        plan: &BlockPlan,
        live: &[Option<Tensor>],
        ctx: Ctx,
        buf: &mut Buffers,
    ) -> Result<Option<(Tensor, usize)>> {
        let conv = |j: usize| match &self.nodes[j].op {
            Op::Conv(c) => Ok(c),
            _ => Err(EngineError::layer(&self.nodes[j].name, "not a conv")),
        };
        let first = &self.nodes[plan.expand.unwrap_or(plan.dw)];
        let get = |v: usize| {
            live[v]
                .as_ref()
                .ok_or_else(|| EngineError::layer(&first.name, "input value is not live"))
        };
        let x = get(*first
            .inputs
            .first()
            .ok_or_else(|| EngineError::layer(&first.name, "no input"))?)?;
        let project = &self.nodes[plan.project];
        let res = match plan.add {
            Some(j) => {
                let add = &self.nodes[j];
                let other = add
                    .inputs
                    .iter()
                    .copied()
                    .find(|&v| v != project.output)
                    .ok_or_else(|| EngineError::layer(&add.name, "no residual input"))?;
                Some(Residual {
                    other: get(other)?,
                    pad: matches!(add.op, Op::AddPad),
                    act: add.act,
                })
            }
            None => None,
        };
        let block = Block {
            expand: plan.expand.map(conv).transpose()?,
            dw: conv(plan.dw)?,
            project: conv(plan.project)?,
        };
        let last = &self.nodes[plan.last()];
        let y = block
            .forward(x, res, ctx, buf)
            .map_err(|r| EngineError::layer(&first.name, r))?;
        Ok(y.map(|y| (y, last.output)))
    }

    /// Drops (or keeps, with `keep_all`) the inputs whose last reader is node `idx`.
    fn release(
        &self,
        live: &mut [Option<Tensor>],
        node: &Node,
        idx: usize,
        keep_all: bool,
        kept: &mut HashMap<String, Tensor>,
        buf: &mut Buffers,
    ) {
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
    }
}

fn eval(node: &Node, ins: &[&Tensor], ctx: Ctx, buf: &mut Buffers) -> std::result::Result<Tensor, String> {
    let arity = match node.op {
        Op::Add | Op::AddPad => 2,
        _ => 1,
    };
    if ins.len() != arity {
        return Err(format!("expects {arity} inputs, has {}", ins.len()));
    }
    let x = ins[0];
    match &node.op {
        Op::Conv(c) => c.forward(x, None, ctx, buf),
        Op::ConvTranspose(c) => c.forward(x, ctx, buf),
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
