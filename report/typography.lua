-- Pandoc filter for the Typst writer only (report/build.py runs it on the whole document,
-- notebooks and front/back matter, when writing Typst; the HTML does not need it).
--
-- Apostrophes: pandoc's Typst writer turns ’ back into ', which Typst's smart quotes set as a
-- prime after a digit (feet, minutes: "Q1's" printed "Q1′s"); and a ' that pandoc read
-- without its `smart` extension (the notebooks' Markdown) it escapes as \', a straight
-- typewriter quote ("PyTorch's"). Every ' or ’ after a letter or digit is an apostrophe (or a
-- closing quote, the same glyph): written as raw Typst, it prints as ’; a ' opening a word is ‘.

local APOSTROPHE = pandoc.RawInline("typst", "’")
local OPENING = pandoc.RawInline("typst", "‘")

function Str(s)
  -- \0 marks an apostrophe (after a letter or digit), \1 an opening quote (before one)
  local text = s.text:gsub("(%w)’", "%1\0"):gsub("(%w)'", "%1\0"):gsub("^['‘](%w)", "\1%1")
  if not text:find("[%z\1]") then
    return nil
  end
  local out = pandoc.Inlines({})
  for piece, mark in (text .. "\0"):gmatch("([^%z\1]*)([%z\1])") do
    if piece ~= "" then
      out:insert(pandoc.Str(piece))
    end
    out:insert(mark == "\1" and OPENING or APOSTROPHE)
  end
  out:remove(#out) -- the mark appended above
  return out
end
