-- Pandoc filter for the Typst writer only (report/build.py runs it on the whole document,
-- notebooks and front/back matter, when writing Typst; the HTML does not need it).
--
-- Apostrophes after a digit: pandoc's Typst writer turns ’ back into ', and Typst's smart
-- quotes set a ' after a digit as a prime (feet, minutes): "Q1's" would print as "Q1′s".
-- Written as raw Typst, the ’ stays an apostrophe.

local APOSTROPHE = pandoc.RawInline("typst", "’")

function Str(s)
  local text = s.text:gsub("(%d)’", "%1\0"):gsub("(%d)'", "%1\0")
  if not text:find("\0", 1, true) then
    return nil
  end
  local out = pandoc.Inlines({})
  local first = true
  for piece in (text .. "\0"):gmatch("([^%z]*)%z") do
    if not first then
      out:insert(APOSTROPHE)
    end
    first = false
    if piece ~= "" then
      out:insert(pandoc.Str(piece))
    end
  end
  return out
end
