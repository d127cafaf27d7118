import QtQuick
import QtTest
import Daub.Ui

Item {
    id: host
    width: 600
    height: 300

    Composer {
        id: composer
        width: 600
        property int pastes: 0
        pasteImage: function() { pastes += 1; return true }
        onPromptEdited: (text) => prompt = text
        onNegativeToggled: (expanded) => negativeExpanded = expanded
    }

    SignalSpy { id: sendSpy; target: composer; signalName: "sendRequested" }

    TestCase {
        name: "Composer"
        when: windowShown

        function init() {
            composer.prompt = ""
            composer.negativePrompt = ""
            composer.negativeExpanded = false
            composer.canSend = true
            composer.pastes = 0
            composer.tokenCounter = null
            sendSpy.clear()
        }

        function test_token_counter_shows_what_the_counter_says() {
            const label = findChild(composer, "tokenCounter")
            verify(!label.visible) // no model, no counter
            const seen = []
            composer.tokenCounter = function(text) {
                seen.push(text)
                return text.indexOf("(a:x)") >= 0 ? { tokens: 0, limit: 75, error: "The weight is not a number." }
                                                 : { tokens: text.length, limit: text.length > 75 ? 150 : 75, error: "" }
            }
            verify(label.visible)
            compare(label.text, "0/75")
            const area = findChild(composer, "promptArea")
            area.forceActiveFocus()
            keyClick(Qt.Key_A)
            keyClick(Qt.Key_B)
            compare(label.text, "2/75")
            compare(seen[seen.length - 1], "ab")
            composer.prompt = "x".repeat(90)
            compare(label.text, "90/150")
            composer.prompt = "a (a:x) b"
            compare(label.text, "prompt syntax?")
            compare(label.tip, "The weight is not a number.")
        }

        function test_send_needs_a_prompt_and_a_model() {
            const button = findChild(composer, "sendButton")
            verify(!button.enabled)
            composer.prompt = "a fox"
            verify(button.enabled)
            composer.canSend = false
            verify(!button.enabled)
        }

        function test_ctrl_enter_sends_and_keeps_text() {
            const area = findChild(composer, "promptArea")
            area.forceActiveFocus()
            keyClick("a")
            keyClick(" ")
            keyClick("f")
            compare(composer.prompt, "a f")
            keyClick(Qt.Key_Return, Qt.ControlModifier)
            compare(sendSpy.count, 1)
            compare(sendSpy.signalArguments[0][0], "a f")
            compare(composer.prompt, "a f") // kept for tweaking
            compare(area.text, "a f")
        }

        function test_negative_prompt_expands() {
            const area = findChild(composer, "negativeArea")
            verify(!area.visible)
            mouseClick(findChild(composer, "negativeToggle"))
            verify(composer.negativeExpanded)
            tryCompare(area, "visible", true)
            composer.prompt = "x"
            composer.negativePrompt = "blurry"
            findChild(composer, "sendButton").clicked()
            compare(sendSpy.signalArguments[0][1], "blurry")
        }

        function test_paste_goes_to_image_first() {
            findChild(composer, "promptArea").forceActiveFocus()
            keyClick(Qt.Key_V, Qt.ControlModifier)
            compare(composer.pastes, 1)
        }
    }
}
