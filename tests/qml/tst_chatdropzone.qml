import QtQuick
import QtTest
import Daub.Ui

Item {
    id: host
    width: 500
    height: 400

    ChatDropzone {
        id: zone
        anchors.fill: parent
        Rectangle { anchors.fill: parent; color: "white" }
    }

    // Something to drag over the zone (an internal drag).
    Rectangle {
        id: dragged
        width: 20
        height: 20
        x: 600
        y: 600
        Drag.active: false
        Drag.hotSpot.x: 10
        Drag.hotSpot.y: 10
    }

    SignalSpy { id: dropSpy; target: zone; signalName: "imageDropped" }

    // A stand-in for Qt Quick's DragEvent.
    function fakeDrop(fields) {
        return {
            hasUrls: fields.urls !== undefined,
            urls: fields.urls || [],
            formats: fields.formats || [],
            hasHtml: fields.html !== undefined,
            html: fields.html || "",
            hasText: fields.text !== undefined,
            text: fields.text || "",
            getDataAsArrayBuffer: function(type) { return fields.data ? fields.data[type] : undefined }
        }
    }

    TestCase {
        name: "ChatDropzone"
        when: windowShown

        function init() {
            dropSpy.clear()
            dragged.Drag.active = false
            dragged.x = 600
            dragged.y = 600
        }

        function test_hover_state() {
            const overlay = findChild(zone, "dropOverlay")
            verify(!zone.hovering)
            verify(!overlay.visible)
            dragged.Drag.active = true
            dragged.x = 200
            dragged.y = 200
            tryCompare(zone, "hovering", true)
            verify(overlay.visible)
            dragged.x = 900
            tryCompare(zone, "hovering", false)
            verify(!overlay.visible)
        }

        function test_file_drop() {
            const sent = zone.handleDrop(fakeDrop({ urls: ["file:///tmp/cat.png"],
                                                    formats: ["text/uri-list"] }))
            compare(dropSpy.count, 1)
            const drop = dropSpy.signalArguments[0][0]
            compare(drop.urls.length, 1)
            compare(String(drop.urls[0]), "file:///tmp/cat.png")
            compare(Object.keys(drop.data).length, 0)
        }

        function test_browser_drop_with_image_data() {
            const bytes = new ArrayBuffer(8)
            zone.handleDrop(fakeDrop({ urls: ["https://example.org/cat.webp"],
                                       formats: ["text/uri-list", "text/html", "image/png", "text/x-moz-url"],
                                       html: "<img src=\"https://example.org/cat.webp\">",
                                       data: { "image/png": bytes } }))
            compare(dropSpy.count, 1)
            const drop = dropSpy.signalArguments[0][0]
            verify(drop.data["image/png"] !== undefined)
            compare(drop.data["text/x-moz-url"], undefined) // only image types carry bytes
            compare(drop.html, "<img src=\"https://example.org/cat.webp\">")
        }

        function test_text_drop() {
            zone.handleDrop(fakeDrop({ text: "https://example.org/a.jpg", formats: ["text/plain"] }))
            compare(dropSpy.signalArguments[0][0].text, "https://example.org/a.jpg")
        }

        function test_real_drop_event() {
            dragged.Drag.active = true
            dragged.x = 200
            dragged.y = 200
            tryCompare(zone, "hovering", true)
            dragged.Drag.drop()
            compare(dropSpy.count, 1)
            verify(!zone.hovering)
        }
    }
}
