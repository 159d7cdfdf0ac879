// A Rust plugin that pulls in enough of std (collections, formatting, generic sorts) that its debug
// build is a module of 10+ MB, most of it DWARF: the trap-frames bench maps its panic frames.
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
static mut INDEX: usize = 7;
#[inline(never)]
fn helper_index(values: &[u32], i: usize) -> u32 { values[i] }
#[inline(never)]
fn churn(n: usize) -> usize {
    let mut m: HashMap<String, Vec<u64>> = HashMap::new();
    let mut b: BTreeMap<u64, String> = BTreeMap::new();
    let mut s: HashSet<i64> = HashSet::new();
    let mut q: VecDeque<f64> = VecDeque::new();
    for k in 0..n {
        let key = format!("{k:>8}-{:.3}-{:?}", k as f64 / 3.0, (k, "x"));
        m.entry(key.clone()).or_default().push(k as u64);
        b.insert(k as u64, key.to_uppercase());
        s.insert(-(k as i64));
        q.push_back(k as f64 * 1.5);
    }
    let mut v: Vec<_> = m.keys().cloned().collect();
    v.sort();
    v.dedup();
    let j = serde_like(&b);
    v.len() + s.len() + q.len() + j.len() + "abc".parse::<u32>().unwrap_or(0) as usize + "1.5".parse::<f64>().map(|x| x as usize).unwrap_or(0)
}
fn serde_like(b: &BTreeMap<u64, String>) -> String {
    let mut out = String::new();
    for (k, v) in b { out.push_str(&format!("{{\"{}\":{:?}}},", k, v.chars().rev().collect::<String>())); }
    out
}
#[no_mangle]
pub extern "C" fn on_reload() {
    let values = vec![1u32, 2, 3];
    let i = unsafe { core::ptr::read_volatile(&INDEX) };
    let n = helper_index(&values, i) as usize + churn(i);
    unsafe { core::ptr::write_volatile(&mut INDEX, n) };
}
macro_rules! many { ($($t:ty),*) => { $( impl Churn for $t {} )* } }
trait Churn: Sized + Clone + std::fmt::Debug + Default + PartialOrd {
    fn go(n: usize) -> String {
        let mut v: Vec<Self> = (0..n).map(|_| Self::default()).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let mut m: BTreeMap<String, Vec<Self>> = BTreeMap::new();
        m.insert(format!("{:?}", v.first()), v.clone());
        let d: VecDeque<Self> = v.into_iter().collect();
        format!("{:?}{:?}", m, d)
    }
}
many!(u8, u16, u32, u64, i32, f64);
#[no_mangle]
pub extern "C" fn on_server_stop() {
    let n = unsafe { core::ptr::read_volatile(&INDEX) };
    let s = u8::go(n) + &u16::go(n) + &u32::go(n) + &u64::go(n) + &i32::go(n) + &f64::go(n);
    unsafe { core::ptr::write_volatile(&mut INDEX, s.len()) };
}
