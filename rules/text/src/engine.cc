#include "engine.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

namespace cephalgia::text::detail {

std::uint64_t HashPaddedWord(const char* data, std::size_t size) {
  // Eight bytes per step, the tail zero-padded: a word is one or two steps.
  std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ size;
  for (std::size_t at = 0; at < size; at += 8) {
    std::uint64_t chunk;
    std::memcpy(&chunk, data + at, 8);
    if (size - at < 8) chunk &= (~0ULL) >> (8 * (8 - (size - at)));
    h = (h ^ chunk) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  return h | 1;  // never 0
}

std::uint64_t HashWord(std::string_view s) {
  char padded[kMaxWordBytes + 16] = {};
  if (s.size() > kMaxWordBytes) {
    std::string copy(s);
    copy.append(8, '\0');
    return HashPaddedWord(copy.data(), s.size());
  }
  std::memcpy(padded, s.data(), s.size());
  return HashPaddedWord(padded, s.size());
}

// ---- Vocabulary ---------------------------------------------------------------------------

namespace {
std::uint64_t Prefix(std::string_view key) {
  std::uint64_t prefix = 0;
  std::memcpy(&prefix, key.data(), std::min<std::size_t>(key.size(), 8));
  return prefix;
}
}  // namespace

const Vocabulary::Slot* Vocabulary::Probe(std::string_view key, std::uint64_t hash) const {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = static_cast<std::size_t>(hash) & mask;
  while (true) {
    const Slot& slot = slots_[i];
    if (slot.id_count == 0) return &slot;
    if (slot.hash == hash && slot.key_len == key.size() && slot.prefix == Prefix(key) &&
        (key.size() <= 8 ||
         std::memcmp(keys_.data() + slot.key_offset + 8, key.data() + 8, key.size() - 8) == 0)) {
      return &slot;
    }
    i = (i + 1) & mask;
  }
}

Vocabulary::Slot* Vocabulary::Probe(std::string_view key, std::uint64_t hash) {
  return const_cast<Slot*>(static_cast<const Vocabulary*>(this)->Probe(key, hash));
}

std::pair<const std::int32_t*, std::size_t> Vocabulary::Find(std::string_view key) const {
  if (key.empty() || key.size() > kMaxWordBytes) return {nullptr, 0};
  char padded[kMaxWordBytes + 16] = {};
  std::memcpy(padded, key.data(), key.size());
  return FindPadded(std::string_view(padded, key.size()));
}

std::pair<const std::int32_t*, std::size_t> Vocabulary::FindPadded(std::string_view key) const {
  if (key.empty() || key.size() > kMaxWordBytes) return {nullptr, 0};
  const std::uint64_t hash = HashPaddedWord(key.data(), key.size());
  std::uint64_t prefix;
  std::memcpy(&prefix, key.data(), 8);
  if (key.size() < 8) prefix &= (~0ULL) >> (8 * (8 - key.size()));
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = static_cast<std::size_t>(hash) & mask;
  while (true) {
    const Slot& slot = slots_[i];
    if (slot.id_count == 0) return {nullptr, 0};
    if (slot.hash == hash && slot.prefix == prefix && slot.key_len == key.size() &&
        (key.size() <= 8 ||
         std::memcmp(keys_.data() + slot.key_offset + 8, key.data() + 8, key.size() - 8) == 0)) {
      return {ids_.data() + slot.id_offset, slot.id_count};
    }
    i = (i + 1) & mask;
  }
}

void Vocabulary::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  for (const Slot& slot : old) {
    if (slot.id_count == 0) continue;
    std::string_view key(keys_.data() + slot.key_offset, slot.key_len);
    *Probe(key, slot.hash) = slot;
  }
}

std::int32_t Vocabulary::Intern(std::string_view word) {
  std::uint64_t hash = HashWord(word);
  Slot* slot = Probe(word, hash);
  if (slot->id_count != 0) return ids_[slot->id_offset];
  if ((used_ + 1) * 2 > slots_.size()) {
    Grow();
    slot = Probe(word, hash);
  }
  slot->hash = hash;
  slot->prefix = Prefix(word);
  slot->key_offset = static_cast<std::uint32_t>(keys_.size());
  slot->key_len = static_cast<std::uint16_t>(word.size());
  slot->id_count = 1;
  slot->id_offset = static_cast<std::uint32_t>(ids_.size());
  keys_.append(word);
  ids_.push_back(next_id_);
  ++used_;
  return next_id_++;
}

void Vocabulary::AddAlias(std::string_view key, const std::vector<std::int32_t>& ids) {
  std::uint64_t hash = HashWord(key);
  Slot* slot = Probe(key, hash);
  if (slot->id_count == 0) {
    if ((used_ + 1) * 2 > slots_.size()) {
      Grow();
      slot = Probe(key, hash);
    }
    slot->hash = hash;
    slot->prefix = Prefix(key);
    slot->key_offset = static_cast<std::uint32_t>(keys_.size());
    slot->key_len = static_cast<std::uint16_t>(key.size());
    keys_.append(key);
    ++used_;
  }
  slot->id_count = static_cast<std::uint16_t>(ids.size());
  slot->id_offset = static_cast<std::uint32_t>(ids_.size());
  ids_.insert(ids_.end(), ids.begin(), ids.end());
}

// ---- Automaton ----------------------------------------------------------------------------

void Automaton::Build(const std::vector<std::vector<std::int32_t>>& patterns,
                      const std::vector<std::uint8_t>& pattern_bits, std::int32_t vocabulary_size) {
  // A trie with map children first, then renumbered breadth first with each node's children
  // sorted by word, so that they are consecutive states.
  std::vector<std::map<std::int32_t, std::int32_t>> children(1);
  std::vector<std::vector<std::int32_t>> own_outputs(1);
  for (std::size_t p = 0; p < patterns.size(); ++p) {
    std::int32_t state = 0;
    for (std::int32_t word : patterns[p]) {
      auto it = children[static_cast<std::size_t>(state)].find(word);
      if (it == children[static_cast<std::size_t>(state)].end()) {
        std::int32_t next = static_cast<std::int32_t>(children.size());
        children[static_cast<std::size_t>(state)].emplace(word, next);
        children.emplace_back();
        own_outputs.emplace_back();
        state = next;
      } else {
        state = it->second;
      }
    }
    own_outputs[static_cast<std::size_t>(state)].push_back(static_cast<std::int32_t>(p));
  }
  const std::size_t states = children.size();
  std::vector<std::int32_t> order;  // new id -> old id
  std::vector<std::int32_t> renumber(states, 0);
  order.reserve(states);
  order.push_back(0);
  for (std::size_t k = 0; k < order.size(); ++k) {
    for (const auto& [word, child] : children[static_cast<std::size_t>(order[k])]) {
      renumber[static_cast<std::size_t>(child)] = static_cast<std::int32_t>(order.size());
      order.push_back(child);
    }
  }
  nodes_.assign(states, Node{});
  edge_word_.assign(states, -1);
  root_next_.assign(static_cast<std::size_t>(std::max<std::int32_t>(vocabulary_size, 1)), 0);
  for (std::size_t id = 0; id < states; ++id) {
    const auto& kids = children[static_cast<std::size_t>(order[id])];
    Node& node = nodes_[id];
    node.child_count = static_cast<std::uint32_t>(kids.size());
    node.first_child =
        kids.empty()
            ? 0
            : static_cast<std::uint32_t>(renumber[static_cast<std::size_t>(kids.begin()->second)]);
    for (const auto& [word, child] : kids) {
      edge_word_[static_cast<std::size_t>(renumber[static_cast<std::size_t>(child)])] = word;
      if (id == 0)
        root_next_[static_cast<std::size_t>(word)] = renumber[static_cast<std::size_t>(child)];
    }
  }
  // Failure and dictionary links, breadth first (new ids are already in that order).
  auto child_of = [&](std::int32_t state, std::int32_t word) -> std::int32_t {
    const Node& node = nodes_[static_cast<std::size_t>(state)];
    for (std::uint32_t k = node.first_child; k < node.first_child + node.child_count; ++k) {
      if (edge_word_[k] == word) return static_cast<std::int32_t>(k);
    }
    return -1;
  };
  outputs_.clear();
  for (std::size_t id = 0; id < states; ++id) {
    const auto& own = own_outputs[static_cast<std::size_t>(order[id])];
    nodes_[id].out_start = static_cast<std::uint32_t>(outputs_.size());
    nodes_[id].out_count = static_cast<std::uint32_t>(own.size());
    outputs_.insert(outputs_.end(), own.begin(), own.end());
  }
  for (std::size_t id = 0; id < states; ++id) {
    const Node& node = nodes_[id];
    for (std::uint32_t v = node.first_child; v < node.first_child + node.child_count; ++v) {
      std::int32_t word = edge_word_[v];
      std::int32_t fail = 0;
      if (id != 0) {
        std::int32_t f = node.fail;
        while (true) {
          std::int32_t next = child_of(f, word);
          if (next >= 0) {
            fail = next;
            break;
          }
          if (f == 0) break;
          f = nodes_[static_cast<std::size_t>(f)].fail;
        }
      }
      nodes_[v].fail = fail;
      const Node& failed = nodes_[static_cast<std::size_t>(fail)];
      nodes_[v].dict_link = failed.out_count > 0 ? fail : failed.dict_link;
    }
  }
  // Breadth first, a state's dictionary link is numbered before it: one pass.
  output_bits_.assign(states, 0);
  for (std::size_t id = 1; id < states; ++id) {
    std::uint8_t bits = 0;
    for (std::uint32_t k = 0; k < nodes_[id].out_count; ++k) {
      bits |= pattern_bits[static_cast<std::size_t>(outputs_[nodes_[id].out_start + k])];
    }
    if (nodes_[id].dict_link > 0) {
      bits |= output_bits_[static_cast<std::size_t>(nodes_[id].dict_link)];
    }
    output_bits_[id] = bits;
  }
}

// ---- Phrases ------------------------------------------------------------------------------

namespace {

// Collects the normal-form words of a phrase as the runtime vocabulary would map them.
struct PhraseSink {
  const RulesData& rules;
  std::vector<std::string>* words;
  bool IsCompound(std::string_view s) const {
    return rules.abbreviations.find(std::string(s)) != rules.abbreviations.end();
  }
  bool stopped() const { return false; }
  void OnWord(const WordEvent& event) {
    if ((event.flags & kCommaBefore) && !words->empty()) words->push_back(std::string(kCommaWord));
    if (event.flags & kYear) {
      words->push_back("{year}");
      return;
    }
    if (event.flags & kAge) {
      words->push_back("{age}");
      return;
    }
    std::string word(event.lower);
    if ((event.flags & kSigned) && rules.abbreviations.find(word) == rules.abbreviations.end()) {
      word.erase(0, 1);
    }
    if (auto it = rules.spelling.find(word); it != rules.spelling.end()) word = it->second;
    if (auto it = rules.abbreviations.find(word); it != rules.abbreviations.end()) {
      words->insert(words->end(), it->second.begin(), it->second.end());
      return;
    }
    words->push_back(std::move(word));
  }
  void OnSentenceEnd(Break) {}
};

}  // namespace

std::vector<std::string> NormalizePhraseWords(std::string_view phrase, const RulesData& rules) {
  if (phrase == kNegativeAnswerWord) return {std::string(kNegativeAnswerWord)};
  std::string text(phrase);
  for (std::size_t at = text.find("{year}"); at != std::string::npos; at = text.find("{year}")) {
    text.replace(at, 6, "2000");
  }
  for (std::size_t at = text.find("{age}"); at != std::string::npos; at = text.find("{age}")) {
    text.replace(at, 5, "15yo");
  }
  std::vector<std::string> words;
  PhraseSink sink{rules, &words};
  Scan(text, rules, sink);
  return words;
}

namespace {

// A phrase's length in the text's words: a comma it holds is no word of the text.
std::uint16_t TokenLength(const std::vector<std::string>& words) {
  return static_cast<std::uint16_t>(std::count_if(
      words.begin(), words.end(), [](const std::string& w) { return w != kCommaWord; }));
}

}  // namespace

Result<std::shared_ptr<const Engine>> BuildEngine(
    std::shared_ptr<const RulesData> rules,
    const std::vector<std::pair<int, std::string>>& concepts) {
  auto engine = std::make_shared<Engine>();
  engine->rules = rules;
  std::vector<std::vector<std::int32_t>> sequences;
  auto intern_all = [&](const std::vector<std::string>& words,
                        std::vector<std::int32_t>* ids) -> bool {
    for (const std::string& word : words) {
      if (word.empty() || word.size() > kMaxWordBytes) return false;
      ids->push_back(engine->vocabulary.Intern(word));
    }
    return true;
  };
  for (const TermSpec& term : rules->terms) {
    std::vector<std::int32_t> ids;
    std::vector<std::string> words = NormalizePhraseWords(term.text, *rules);
    if (words.empty() || !intern_all(words, &ids)) {
      return InvalidArgument("context lexicon term \"" + term.text + "\" has no usable words");
    }
    PatternInfo info = term.info;
    info.length = TokenLength(words);
    info.whole_item = info.kind == PatternKind::kTrigger && term.text == kNegativeAnswerWord;
    sequences.push_back(std::move(ids));
    engine->patterns.push_back(info);
  }
  std::set<std::pair<int, std::vector<std::int32_t>>> seen;
  for (std::size_t k = 0; k < concepts.size(); ++k) {
    const auto& [id, phrase] = concepts[k];
    const std::string where = "concept phrase #" + std::to_string(k) + " (\"" + phrase + "\")";
    if (id < 0) return InvalidArgument(where + ": the concept id must be >= 0");
    std::vector<std::string> words = NormalizePhraseWords(phrase, *rules);
    if (words.empty()) return InvalidArgument(where + " has no words");
    if (words.size() > 64) return InvalidArgument(where + " is longer than 64 words");
    std::vector<std::int32_t> ids;
    if (!intern_all(words, &ids)) {
      return InvalidArgument(where + " has a word longer than " + std::to_string(kMaxWordBytes) +
                             " bytes");
    }
    if (!seen.emplace(id, ids).second) continue;
    PatternInfo info;
    info.kind = PatternKind::kConcept;
    info.concept_id = id;
    info.length = TokenLength(words);
    sequences.push_back(std::move(ids));
    engine->patterns.push_back(info);
    ++engine->concept_phrases;
  }
  // Variant spellings and abbreviations map to the ids of their normal forms.
  for (const auto& [variant, normal] : rules->spelling) {
    engine->vocabulary.AddAlias(variant, {engine->vocabulary.Intern(normal)});
  }
  for (const auto& [abbreviation, expansion] : rules->abbreviations) {
    std::vector<std::int32_t> ids;
    for (const std::string& word : expansion) ids.push_back(engine->vocabulary.Intern(word));
    engine->vocabulary.AddAlias(abbreviation, ids);
  }
  if (engine->vocabulary.Contains(kCommaWord)) {
    engine->comma_word = engine->vocabulary.Intern(std::string(kCommaWord));
  }
  std::vector<std::uint8_t> bits;
  for (const PatternInfo& info : engine->patterns) bits.push_back(KindBit(info.kind));
  engine->automaton.Build(sequences, bits, engine->vocabulary.size());
  return std::shared_ptr<const Engine>(std::move(engine));
}

}  // namespace cephalgia::text::detail
