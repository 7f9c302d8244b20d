package core

import (
	"testing"
	"unicode/utf8"
)

// estimateSamples are prompts in several languages and code.
var estimateSamples = map[string]string{
	"english":  "Can you explain, step by step, how photosynthesis turns sunlight into sugar? Keep it short for a 10-year-old.",
	"german":   "Könntest du mir bitte erklären, warum die Straßenbahn in Düsseldorf heute Verspätung hatte? Übrigens: Grüße an alle!",
	"chinese":  "请用简单的语言解释一下光合作用是如何把阳光变成糖的？这是给十岁孩子的作业。",
	"japanese": "光合成がどのように日光を糖に変えるのか、10歳の子どもにもわかるように簡単に説明してください。",
	"russian":  "Объясни, пожалуйста, простыми словами, как фотосинтез превращает солнечный свет в сахар.",
	"arabic":   "من فضلك اشرح بكلمات بسيطة كيف يحول التمثيل الضوئي ضوء الشمس إلى سكر لطفل في العاشرة.",
	"go code":  "func sum(xs []int) (total int) {\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}\n",
	"python":   "def fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a  # 🐍 done\n",
}

// toyBPE trains a byte-level BPE on corpus, merging the most frequent adjacent pair each round, as
// cl100k_base / o200k_base were trained (without their pre-tokenising split, which only stops merges).
// Trained on the very texts it then encodes, it compresses them more than a general tokenizer would.
func toyBPE(corpus []string, rounds int) func(string) int {
	type pair struct{ a, b string }
	var merges []pair
	seqs := make([][]string, len(corpus))
	for i, s := range corpus {
		for j := 0; j < len(s); j++ {
			seqs[i] = append(seqs[i], s[j:j+1])
		}
	}
	apply := func(seq []string, p pair) []string {
		out := seq[:0:0]
		for i := 0; i < len(seq); i++ {
			if i+1 < len(seq) && seq[i] == p.a && seq[i+1] == p.b {
				out = append(out, p.a+p.b)
				i++
			} else {
				out = append(out, seq[i])
			}
		}
		return out
	}
	for r := 0; r < rounds; r++ {
		counts := map[pair]int{}
		var best pair
		for _, seq := range seqs {
			for i := 0; i+1 < len(seq); i++ {
				p := pair{seq[i], seq[i+1]}
				counts[p]++
				if c := counts[p]; c > counts[best] || (c == counts[best] && p.a+"\x00"+p.b < best.a+"\x00"+best.b) {
					best = p
				}
			}
		}
		if counts[best] < 2 {
			break
		}
		merges = append(merges, best)
		for i := range seqs {
			seqs[i] = apply(seqs[i], best)
		}
	}
	return func(s string) int {
		seq := make([]string, 0, len(s))
		for j := 0; j < len(s); j++ {
			seq = append(seq, s[j:j+1])
		}
		for _, p := range merges {
			seq = apply(seq, p)
		}
		return len(seq)
	}
}

// TestEstimateIsAtOrAboveTokenCounts checks the estimate against the bounds it rests on, for each
// sample: at or above the UTF-8 byte count (the most tokens any byte-level BPE can give) and the
// character count + 1 (the most a SentencePiece tokenizer with byte fallback gives before falling
// back); and at or above a byte-level BPE trained on the samples themselves. It has no real counts
// of a named tokenizer: none is vendored here, and the bound does not depend on one.
func TestEstimateIsAtOrAboveTokenCounts(t *testing.T) {
	var corpus []string
	for _, s := range estimateSamples {
		corpus = append(corpus, s, s) // repeated so frequent pairs exist in every language
	}
	bpe := toyBPE(corpus, 400)
	for name, s := range estimateSamples {
		est := EstimateInputTokens(EstimateInput{Texts: []string{s}, Messages: 1}, "gpt-4o")
		bytes, chars, toks := int64(len(s)), int64(utf8.RuneCountInString(s)), int64(bpe(s))
		if toks > bytes {
			t.Errorf("%s: the BPE gave %d tokens for %d bytes", name, toks, bytes)
		}
		if est < bytes || est < chars+1 || est < toks {
			t.Errorf("%s: estimate %d below bytes %d / chars %d / bpe %d", name, est, bytes, chars, toks)
		}
		if est > bytes+estimateRequestOverhead+estimateMessageOverhead+1 {
			t.Errorf("%s: estimate %d adds more than the stated overheads to %d bytes", name, est, bytes)
		}
		t.Logf("%-8s bytes %4d chars %4d toy-bpe %4d estimate %4d", name, bytes, chars, toks, est)
	}
}

func TestEstimateAddsOverheadsImagesAndTokenIDs(t *testing.T) {
	cases := []struct {
		in    EstimateInput
		model string
		want  int64
	}{
		{EstimateInput{}, "gpt-4o", 64},
		{EstimateInput{Texts: []string{"hi", "你好"}, Messages: 2}, "gpt-4o", 64 + 2*16 + 3 + 7},
		{EstimateInput{Tools: 2}, "claude-sonnet-4-5", 64 + 800 + 64},
		{EstimateInput{Images: 2}, "claude-sonnet-4-5-20250929", 64 + 2*1700},
		{EstimateInput{Images: 1}, "gpt-4o-mini-2024-07-18", 64 + 48_169},
		{EstimateInput{Images: 1}, "gpt-4.1-nano", 64 + 3_800},
		{EstimateInput{Images: 1}, "gpt-4o", 64 + 1_500},
		{EstimateInput{Images: 1}, "llava:13b", 64 + 4_200},
		{EstimateInput{TokenIDs: 1000}, "text-embedding-3-small", 64 + 1000},
	}
	for _, c := range cases {
		if got := EstimateInputTokens(c.in, c.model); got != c.want {
			t.Errorf("%+v %s: %d, want %d", c.in, c.model, got, c.want)
		}
	}
	if EstimateOutputTokens(-5) != 0 || EstimateOutputTokens(42) != 42 {
		t.Error("EstimateOutputTokens")
	}
}
