//! A decoded iStandaarden message: a compact tree whose every node knows its
//! element definition in the [`Schema`].
//!
//! One generic tree serves all 28 messages instead of a struct per message:
//! the schema data says what a node may contain, and typed accessors
//! (`date`, `int`, `text`) read values by path. Building goes through the same
//! definitions, so a message built in code (a retourbericht, a declaration)
//! always has its children in the order the standard prescribes.

use chrono::NaiveDate;

use crate::schema::{
    ClassDef, Content, DataType, ElementDef, MessageDef, MessageKey, Schema, Standard,
    datatype::{parse_integer, parse_xsd_date},
};

pub type NodeId = u32;
const NONE: NodeId = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Class that declares this element (the parent's type).
    pub class: u16,
    /// Index of the element in that class's sequence.
    pub elem: u16,
    pub parent: NodeId,
    pub first_child: NodeId,
    pub last_child: NodeId,
    pub next_sibling: NodeId,
    /// Text of a simple element (byte range into `Message::text`).
    pub text: (u32, u32),
    /// Byte offset of the start tag in the source, for line numbers.
    pub offset: u32,
}

/// A message tree bound to the built-in schema.
#[derive(Debug, Clone)]
pub struct Message {
    schema: &'static Schema,
    key: MessageKey,
    pub(crate) nodes: Vec<Node>,
    pub(crate) text: String,
}

impl Message {
    /// An empty message of the given kind, holding just the root element.
    pub fn new(schema: &'static Schema, key: MessageKey) -> Message {
        Self::with_capacity(schema, key, 1, 0)
    }

    /// Like [`Message::new`], with room for `nodes` elements and `text` bytes
    /// of values, so decoding does not grow the buffers step by step.
    pub fn with_capacity(
        schema: &'static Schema,
        key: MessageKey,
        nodes: usize,
        text: usize,
    ) -> Message {
        let document = schema.message(key).document;
        let mut all = Vec::with_capacity(nodes.max(1));
        all.push(Node {
            class: document,
            elem: 0,
            parent: NONE,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            text: (0, 0),
            offset: 0,
        });
        Message {
            schema,
            key,
            nodes: all,
            text: String::with_capacity(text),
        }
    }

    pub fn schema(&self) -> &'static Schema {
        self.schema
    }

    pub fn key(&self) -> MessageKey {
        self.key
    }

    pub fn standard(&self) -> &'static Standard {
        self.schema.standard(self.key)
    }

    pub fn def(&self) -> &'static MessageDef {
        self.schema.message(self.key)
    }

    /// "WMO301", "JW325", ...
    pub fn name(&self) -> &'static str {
        &self.def().name
    }

    pub fn root(&self) -> NodeRef<'_> {
        NodeRef { msg: self, id: 0 }
    }

    pub fn node(&self, id: NodeId) -> NodeRef<'_> {
        NodeRef { msg: self, id }
    }

    /// Shortcut for `root().get(path)`.
    pub fn get(&self, path: &str) -> Option<NodeRef<'_>> {
        self.root().get(path)
    }

    /// Shortcut for the text at `path` below the root.
    pub fn value(&self, path: &str) -> Option<&str> {
        self.root().value(path)
    }

    pub(crate) fn element_def(&self, id: NodeId) -> &'static ElementDef {
        let n = &self.nodes[id as usize];
        &self.standard().class(n.class).elements[usize::from(n.elem)]
    }

    /// Appends a child element (by name) to `parent`, keeping the schema's
    /// sequence order among siblings. Returns `None` when `parent` has no such
    /// element in its type.
    pub fn add_element(&mut self, parent: NodeId, name: &str) -> Option<NodeId> {
        let class_id = match self.element_def(parent).content {
            Content::Complex(c) => c,
            Content::Simple(_) => return None,
        };
        let idx = self.standard().class(class_id).element_index(name)?;
        Some(self.push_node(parent, class_id, u16::try_from(idx).ok()?, 0))
    }

    /// Appends a simple element with its value.
    pub fn add_value(&mut self, parent: NodeId, name: &str, value: &str) -> Option<NodeId> {
        let id = self.add_element(parent, name)?;
        self.set_text(id, value);
        Some(id)
    }

    pub(crate) fn set_text(&mut self, id: NodeId, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        let end = self.text.len();
        self.nodes[id as usize].text = (start as u32, end as u32);
    }

    /// Links a new node under `parent`, after the last sibling whose element
    /// index is not greater (so out-of-order building still yields schema order).
    pub(crate) fn push_node(
        &mut self,
        parent: NodeId,
        class: u16,
        elem: u16,
        offset: u32,
    ) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node {
            class,
            elem,
            parent,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            text: (0, 0),
            offset,
        });
        let p = parent as usize;
        let last = self.nodes[p].last_child;
        if last == NONE {
            self.nodes[p].first_child = id;
            self.nodes[p].last_child = id;
        } else if self.nodes[last as usize].elem <= elem {
            self.nodes[last as usize].next_sibling = id;
            self.nodes[p].last_child = id;
        } else {
            // Insert before the first sibling with a greater element index.
            let mut prev = NONE;
            let mut cur = self.nodes[p].first_child;
            while cur != NONE && self.nodes[cur as usize].elem <= elem {
                prev = cur;
                cur = self.nodes[cur as usize].next_sibling;
            }
            self.nodes[id as usize].next_sibling = cur;
            if prev == NONE {
                self.nodes[p].first_child = id;
            } else {
                self.nodes[prev as usize].next_sibling = id;
            }
        }
        id
    }
}

/// A borrowed view of one node.
#[derive(Clone, Copy)]
pub struct NodeRef<'m> {
    msg: &'m Message,
    pub id: NodeId,
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path())
    }
}

impl<'m> NodeRef<'m> {
    fn node(&self) -> &'m Node {
        &self.msg.nodes[self.id as usize]
    }

    pub fn message(&self) -> &'m Message {
        self.msg
    }

    pub fn def(&self) -> &'static ElementDef {
        self.msg.element_def(self.id)
    }

    pub fn name(&self) -> &'static str {
        &self.def().name
    }

    /// The class (complex type) of this element, if it has one.
    pub fn class(&self) -> Option<&'static ClassDef> {
        match self.def().content {
            Content::Complex(c) => Some(self.msg.standard().class(c)),
            Content::Simple(_) => None,
        }
    }

    pub fn datatype(&self) -> Option<&'static DataType> {
        match self.def().content {
            Content::Simple(t) => Some(self.msg.standard().datatype(t)),
            Content::Complex(_) => None,
        }
    }

    /// Whether the element lives in the basisschema namespace.
    pub fn in_basis(&self) -> bool {
        self.msg.standard().class(self.node().class).basis
    }

    pub fn parent(&self) -> Option<NodeRef<'m>> {
        let p = self.node().parent;
        (p != NONE).then_some(NodeRef {
            msg: self.msg,
            id: p,
        })
    }

    pub fn offset(&self) -> u32 {
        self.node().offset
    }

    /// All child elements in document order.
    pub fn children(&self) -> Children<'m> {
        Children {
            msg: self.msg,
            next: self.node().first_child,
        }
    }

    /// Child elements with the given name.
    pub fn children_named(&self, name: &'m str) -> impl Iterator<Item = NodeRef<'m>> + 'm {
        self.children().filter(move |c| c.name() == name)
    }

    pub fn child(&self, name: &str) -> Option<NodeRef<'m>> {
        self.children().find(|c| c.name() == name)
    }

    /// Follows a `/`-separated path of child names (first match at each step).
    pub fn get(&self, path: &str) -> Option<NodeRef<'m>> {
        let mut cur = *self;
        for step in path.split('/').filter(|s| !s.is_empty()) {
            cur = cur.child(step)?;
        }
        Some(cur)
    }

    /// Every node reached by a path, following all repetitions at each step.
    pub fn all(&self, path: &str) -> Vec<NodeRef<'m>> {
        let mut cur = vec![*self];
        for step in path.split('/').filter(|s| !s.is_empty()) {
            cur = cur
                .iter()
                .flat_map(|n| n.children().filter(|c| c.name() == step))
                .collect();
        }
        cur
    }

    /// Raw text of a simple element.
    pub fn text(&self) -> &'m str {
        let (s, e) = self.node().text;
        &self.msg.text[s as usize..e as usize]
    }

    /// Text as the schema compares it (white space collapsed for non-strings).
    pub fn normalized(&self) -> &'m str {
        match self.datatype() {
            Some(dt) => dt.normalize(self.text()),
            None => self.text(),
        }
    }

    /// The normalized text at `path` below this node.
    pub fn value(&self, path: &str) -> Option<&'m str> {
        self.get(path).map(|n| n.normalized())
    }

    pub fn date(&self, path: &str) -> Option<NaiveDate> {
        self.value(path).and_then(parse_xsd_date)
    }

    pub fn int(&self, path: &str) -> Option<i64> {
        self.value(path)
            .and_then(parse_integer)
            .and_then(|n| i64::try_from(n).ok())
    }

    pub fn has(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// Position among siblings of the same name (1-based).
    pub fn position(&self) -> usize {
        match self.parent() {
            None => 1,
            Some(p) => {
                p.children()
                    .filter(|c| c.name() == self.name())
                    .take_while(|c| c.id != self.id)
                    .count()
                    + 1
            }
        }
    }

    /// Path below the root, with positions where an element repeats:
    /// `Client/ToegewezenProducten/ToegewezenProduct[2]/Einddatum`.
    pub fn path(&self) -> String {
        let mut parts = Vec::new();
        let mut cur = *self;
        while let Some(p) = cur.parent() {
            let name = cur.name();
            if cur.def().max > 1 {
                parts.push(format!("{name}[{}]", cur.position()));
            } else {
                parts.push(name.to_string());
            }
            cur = p;
        }
        parts.reverse();
        if parts.is_empty() {
            "Bericht".to_string()
        } else {
            parts.join("/")
        }
    }
}

pub struct Children<'m> {
    msg: &'m Message,
    next: NodeId,
}

impl<'m> Iterator for Children<'m> {
    type Item = NodeRef<'m>;

    fn next(&mut self) -> Option<NodeRef<'m>> {
        if self.next == NONE {
            return None;
        }
        let id = self.next;
        self.next = self.msg.nodes[id as usize].next_sibling;
        Some(NodeRef { msg: self.msg, id })
    }
}
