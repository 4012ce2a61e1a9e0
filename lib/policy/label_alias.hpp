#pragma once
// Label aliasing for teacher chains (vs-decompose --alias-labels). A student trained on chains in
// which the same few class names recur can learn those names by heart and answer only with them; a
// label it has never been trained on then never comes out, however well it reads the movements.
// Renaming every candidate of a clip, consistently through the whole conversation (the candidate
// list, the definitions, the chain and the answer), to a made-up name that changes from clip to
// clip leaves the student one way to answer those clips: match what it sees against the definitions
// it is shown, and copy that label from the list. That is the skill an unseen label needs.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/record.hpp"

namespace vstar::policy {

// A made-up name for each of `names`, each of as many words as the name it replaces, the words
// drawn from `words` (the first capitalised, as the candidate lists spell names). The aliases
// differ from one another and from every name, and none contains a name; deterministic in `key`
// (the record's id) and `seed`.
std::map<std::string, std::string> LabelAliases(const std::vector<std::string>& names,
                                                const std::vector<std::string>& words,
                                                const std::string& key, uint64_t seed);

// The distinct lower-case words (letters only, 3 to 10 of them) of the conversations' texts, in
// order of first appearance: the pool aliases are drawn from, so they look like the world's words.
std::vector<std::string> ConversationWords(const std::vector<const io::Json*>& conversations);

// Replaces every whole-word occurrence of a name in `text` by its alias, in one pass (the longest
// name first where several start at one place; an alias is never renamed again).
std::string RenameLabels(const std::string& text,
                         const std::map<std::string, std::string>& aliases);

// RenameLabels over every text item of a conversation in the chat format vs-sft reads.
void RenameLabelsInConversation(io::Json& messages,
                                const std::map<std::string, std::string>& aliases);

// Whether the record `id` is one of the fraction `p` of records that get aliases (seeded, per id).
bool AliasedRecord(const std::string& id, double p, uint64_t seed);

}  // namespace vstar::policy
