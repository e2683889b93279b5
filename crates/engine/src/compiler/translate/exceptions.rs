//! Exception handling: `try_table` with its catch clauses, `throw`, `throw_ref`, and the
//! legacy `try` / `catch` / `catch_all` / `rethrow` / `delegate`, all on one mechanism.
//!
//! A handler's scope (a `try_table` body, a legacy `try` body) has a landing pad: a block
//! taking the exception. Every call in the scope is a `try_call` whose exceptional edge
//! goes there (`FuncEnv::handler`), and `throw` is a call of the `throw` builtin like any
//! other, so a throw in the scope lands there too. Nothing runs on entering a scope. The
//! pad compares the exception's tag with each clause's in order and branches to the first
//! that matches; with no match it throws the exception again, to the handler around the
//! scope. The runtime's unwinder (`runtime/throw.rs`) therefore never looks at tags.
//!
//! A legacy `try` builds its pad's comparisons one `catch` at a time (`dispatch` is the
//! block reached when no clause so far matched). `rethrow` reads the caught exception from
//! the `try`'s variable; `delegate l` makes the pad throw to the handler around label `l`.
#![forbid(unsafe_code)]

use super::{FrameKind, FuncTranslator};
use crate::environ::trap::Trap;
use cranelift_codegen::ir::{self, types, Block, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use wasmparser::{BlockType, Catch, TryTable};

/// Size of one value slot of an exception (`ValRaw`).
const SLOT: i32 = 16;

/// A legacy `try` frame's state.
pub(super) struct LegacyTry {
    pub landing_pad: Block,
    /// Where control goes when no `catch` so far matched; `None` once `catch_all` took it.
    pub dispatch: Option<Block>,
    /// The exception being handled, for `rethrow`.
    pub caught: Variable,
    /// Whether the `catch` clauses started (the body's scope ended).
    pub in_catch: bool,
    /// The label a `delegate` sends the body's exceptions to (depth outside the `try`).
    pub delegate: Option<u32>,
}

impl FuncTranslator<'_, '_> {
    /// The landing pad of the handler around the code directly inside `frames[index]`.
    fn handler_from(&self, index: usize) -> Option<Block> {
        self.frames[..=index].iter().rev().find_map(|frame| match &frame.kind {
            FrameKind::TryTable { landing_pad, .. } => Some(*landing_pad),
            FrameKind::Try(t) if !t.in_catch => Some(t.landing_pad),
            _ => None,
        })
    }

    /// The landing pad of the innermost handler around the current instruction.
    pub(super) fn current_handler(&self) -> Option<Block> {
        if self.handler_frames == 0 {
            return None;
        }
        self.handler_from(self.frames.len() - 1)
    }

    fn new_landing_pad(&mut self) -> Block {
        let pad = self.b.create_block();
        self.b.append_block_param(pad, types::I64);
        pad
    }

    pub(super) fn translate_try_table(&mut self, try_table: &TryTable) {
        let (params, results) = self.block_arity(try_table.ty);
        let next = self.block_with_params(&results);
        let landing_pad = self.new_landing_pad();
        let kind = FrameKind::TryTable { landing_pad, catches: try_table.catches.clone() };
        self.push_frame(kind, next, params.len(), results.len());
        self.handler_frames += 1;
    }

    /// Emits a `try_table`'s dispatch, once its frame is popped (clause labels count from
    /// outside the `try_table`) and its body's last block is terminated.
    pub(super) fn finish_try_table(&mut self, landing_pad: Block, catches: &[Catch]) {
        self.handler_frames -= 1;
        self.b.seal_block(landing_pad);
        if !self.env.used_landing_pads.contains(&landing_pad) {
            // Nothing in the body can throw: the pad is unreachable and stays empty.
            self.b.switch_to_block(landing_pad);
            self.b.ins().trap(Trap::Unreachable.to_clif());
            return;
        }
        self.b.switch_to_block(landing_pad);
        let exception = self.b.block_params(landing_pad)[0];
        for catch in catches {
            let (tag, label, with_ref) = match *catch {
                Catch::One { tag, label } => (Some(tag), label, false),
                Catch::OneRef { tag, label } => (Some(tag), label, true),
                Catch::All { label } => (None, label, false),
                Catch::AllRef { label } => (None, label, true),
            };
            let mut args = Vec::new();
            let otherwise = match tag {
                Some(tag) => {
                    let matches = self.env.exception_has_tag(&mut self.b, exception, tag);
                    let caught = self.b.create_block();
                    let otherwise = self.b.create_block();
                    self.b.ins().brif(matches, caught, &[], otherwise, &[]);
                    self.b.seal_block(caught);
                    self.b.seal_block(otherwise);
                    self.b.switch_to_block(caught);
                    args = self.load_exception_values(exception, tag);
                    Some(otherwise)
                }
                None => None,
            };
            if with_ref {
                args.push(exception);
            }
            let (target, _) = self.branch_to(label);
            self.jump(target, &args);
            match otherwise {
                Some(block) => self.b.switch_to_block(block),
                // A catch-all clause ends the dispatch.
                None => return,
            }
        }
        let outer = self.current_handler();
        self.env.throw(&mut self.b, exception, outer);
    }

    /// The values `exception` carries, typed by tag `tag`.
    fn load_exception_values(&mut self, exception: Value, tag: u32) -> Vec<Value> {
        let types: Vec<ir::Type> = self.env.module.tag_type(tag).params().iter().map(|t| t.clif()).collect();
        if types.is_empty() {
            return Vec::new();
        }
        let values = self.env.exception_values(&mut self.b, exception);
        let flags = MemFlagsData::trusted();
        types.iter().enumerate().map(|(i, ty)| self.b.ins().load(*ty, flags, values, i as i32 * SLOT)).collect()
    }

    /// `throw tag`: a new exception with the operands as its values, thrown.
    pub(super) fn translate_throw(&mut self, tag: u32) {
        let count = self.env.module.tag_type(tag).params().len();
        let operands = self.pop_n(count);
        let exception = self.env.new_exception(&mut self.b, tag);
        if !operands.is_empty() {
            let values = self.env.exception_values(&mut self.b, exception);
            for (i, value) in operands.iter().enumerate() {
                self.b.ins().store(MemFlagsData::trusted(), *value, values, i as i32 * SLOT);
            }
        }
        self.throw(exception);
    }

    /// `throw_ref`: traps on null, else throws the exception again (the same one).
    pub(super) fn translate_throw_ref(&mut self) {
        let exception = self.pop();
        self.b.ins().trapz(exception, Trap::NullExceptionReference.to_clif());
        self.throw(exception);
    }

    fn throw(&mut self, exception: Value) {
        let handler = self.current_handler();
        self.env.throw(&mut self.b, exception, handler);
        self.reachable = false;
    }

    /// Legacy `try`: a block whose body is a handler's scope.
    pub(super) fn translate_try(&mut self, blockty: BlockType) {
        let (params, results) = self.block_arity(blockty);
        let next = self.block_with_params(&results);
        let landing_pad = self.new_landing_pad();
        let caught = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(caught, zero);
        let state = LegacyTry { landing_pad, dispatch: Some(landing_pad), caught, in_catch: false, delegate: None };
        self.push_frame(FrameKind::Try(Box::new(state)), next, params.len(), results.len());
        self.handler_frames += 1;
    }

    /// Legacy `catch tag` (`Some`) or `catch_all` (`None`): ends the body or the previous
    /// clause, and starts this clause where the dispatch finds a match.
    pub(super) fn translate_catch(&mut self, tag: Option<u32>) {
        let frame = self.frames.last_mut().expect("validated");
        let (next, num_results, height) = (frame.next, frame.num_results, frame.height);
        if self.reachable {
            frame.next_reached = true;
        }
        let FrameKind::Try(state) = &mut frame.kind else { unreachable!("validated: catch closes a try") };
        if !state.in_catch {
            state.in_catch = true;
            self.handler_frames -= 1;
            self.b.seal_block(state.landing_pad);
        }
        let dispatch = state.dispatch.take().expect("validated: nothing follows catch_all");
        let (landing_pad, caught) = (state.landing_pad, state.caught);
        if self.reachable {
            let results = self.pop_n(num_results);
            self.jump(next, &results);
        }
        self.stack.truncate(height);
        self.b.switch_to_block(dispatch);
        let exception = self.b.block_params(landing_pad)[0];
        let clause = self.b.create_block();
        match tag {
            Some(tag) => {
                let matches = self.env.exception_has_tag(&mut self.b, exception, tag);
                let otherwise = self.b.create_block();
                self.b.ins().brif(matches, clause, &[], otherwise, &[]);
                self.b.seal_block(otherwise);
                self.frame_try().dispatch = Some(otherwise);
            }
            None => {
                self.b.ins().jump(clause, &[]);
            }
        }
        self.b.seal_block(clause);
        self.b.switch_to_block(clause);
        self.b.def_var(caught, exception);
        if let Some(tag) = tag {
            let values = self.load_exception_values(exception, tag);
            self.stack.extend(values);
        }
        self.reachable = true;
    }

    fn frame_try(&mut self) -> &mut LegacyTry {
        match &mut self.frames.last_mut().expect("validated").kind {
            FrameKind::Try(state) => state,
            _ => unreachable!("validated: inside a try"),
        }
    }

    /// Legacy `delegate label`: ends the `try`, whose body's exceptions go to the handler
    /// around `label` (counted from outside the `try`).
    pub(super) fn translate_delegate(&mut self, label: u32) {
        self.frame_try().delegate = Some(label);
        self.translate_end();
    }

    /// Ends a legacy `try` once its frame is popped and its last block is terminated: what no
    /// clause caught (or everything, for `delegate`) is thrown to the handler outside.
    pub(super) fn finish_try(&mut self, state: &LegacyTry) {
        if !state.in_catch {
            self.handler_frames -= 1;
            self.b.seal_block(state.landing_pad);
        }
        let Some(dispatch) = state.dispatch else { return };
        self.b.switch_to_block(dispatch);
        if !self.env.used_landing_pads.contains(&state.landing_pad) {
            self.b.ins().trap(Trap::Unreachable.to_clif());
            return;
        }
        let exception = self.b.block_params(state.landing_pad)[0];
        let handler = match state.delegate {
            Some(label) => self.handler_from(self.frames.len() - 1 - label as usize),
            None => self.current_handler(),
        };
        self.env.throw(&mut self.b, exception, handler);
    }

    /// Legacy `rethrow label`: throws again the exception the `catch` at `label` caught.
    pub(super) fn translate_rethrow(&mut self, label: u32) {
        let index = self.frames.len() - 1 - label as usize;
        let FrameKind::Try(state) = &self.frames[index].kind else { unreachable!("validated: rethrow names a catch") };
        let exception = self.b.use_var(state.caught);
        self.throw(exception);
    }
}
